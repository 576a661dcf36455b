-- Filesystem events name paths: the daemon finds the rows they concern by
-- path, without keeping every row's path in memory.

-- +goose Up
CREATE INDEX lanseedd_torrents_path ON lanseedd_torrents (path);

-- +goose Down
DROP INDEX lanseedd_torrents_path;
