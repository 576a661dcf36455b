-- Filesystem events name paths: the daemon finds the rows they concern by
-- path, without keeping every row's path in memory. (A TEXT column is
-- indexed on a prefix; the lookup compares whole paths.)

-- +goose Up
ALTER TABLE lanseedd_torrents ADD INDEX lanseedd_torrents_path (path(255));

-- +goose Down
ALTER TABLE lanseedd_torrents DROP INDEX lanseedd_torrents_path;
