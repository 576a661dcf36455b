-- Publishing policies: a row can be expired (past publish.max_age, counted
-- from published_at, or past the catalog's expiry column, copied into
-- expires_at by the triggers). Rows ready before count as published when
-- they last changed. Times are UTC.

-- +goose Up
ALTER TABLE lanseedd_torrents
    ADD COLUMN expires_at   DATETIME(6) NULL,
    ADD COLUMN published_at DATETIME(6) NULL;
UPDATE lanseedd_torrents SET published_at = updated_at WHERE state = 'ready';
ALTER TABLE lanseedd_torrents DROP CONSTRAINT lanseedd_torrents_state_check;
ALTER TABLE lanseedd_torrents ADD CONSTRAINT lanseedd_torrents_state_check
    CHECK (state IN ('pending', 'ready', 'missing', 'error', 'deleted', 'expired'));

-- +goose Down
-- The triggers name the dropped columns: they are reinstalled by the next
-- `migrate`.
DELETE FROM lanseedd_meta WHERE `key` = 'triggers_sha256';
UPDATE lanseedd_torrents SET generation = generation + 1, state = 'pending' WHERE state = 'expired';
ALTER TABLE lanseedd_torrents DROP CONSTRAINT lanseedd_torrents_state_check;
ALTER TABLE lanseedd_torrents ADD CONSTRAINT lanseedd_torrents_state_check
    CHECK (state IN ('pending', 'ready', 'missing', 'error', 'deleted'));
ALTER TABLE lanseedd_torrents DROP COLUMN published_at, DROP COLUMN expires_at;
