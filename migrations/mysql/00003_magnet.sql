-- The magnet link of a ready row, so the catalog site can render it without
-- asking lanseedd: infohash, name, size, our trackers and the web seed.

-- +goose Up
ALTER TABLE lanseedd_torrents ADD COLUMN magnet TEXT CHARACTER SET utf8mb4 NULL;

-- +goose Down
ALTER TABLE lanseedd_torrents DROP COLUMN magnet;
