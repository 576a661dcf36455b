-- The feed, the public page and the status page read the newest rows of a
-- state (ORDER BY updated_at DESC, file_id DESC LIMIT n). Through this index
-- they read those n rows only, instead of sorting every row of the state.

-- +goose Up
CREATE INDEX lanseedd_torrents_newest ON lanseedd_torrents (state, updated_at, file_id);

-- +goose Down
DROP INDEX lanseedd_torrents_newest ON lanseedd_torrents;
