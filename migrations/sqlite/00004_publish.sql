-- Publishing policies: a row can be expired (past publish.max_age, counted
-- from published_at, or past the catalog's expiry column, copied into
-- expires_at by the triggers). SQLite cannot change a CHECK constraint, so
-- the table is rebuilt. The catalog triggers name lanseedd_torrents and
-- SQLite refuses the rename while a trigger names a table that is gone:
-- they are dropped here, with their recorded hash, and `migrate` (which the
-- daemon runs on SQLite at start) installs them again.

-- +goose Up
DROP TRIGGER IF EXISTS lanseedd_catalog_insert;
DROP TRIGGER IF EXISTS lanseedd_catalog_update;
DROP TRIGGER IF EXISTS lanseedd_catalog_delete;
DELETE FROM lanseedd_meta WHERE "key" = 'triggers_sha256';
CREATE TABLE lanseedd_torrents_new (
    file_id       INTEGER PRIMARY KEY,
    path          TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'ready', 'missing', 'error', 'deleted', 'expired')),
    generation    INTEGER NOT NULL DEFAULT 1,
    infohash      TEXT,
    name          TEXT,
    size          INTEGER,
    error         TEXT,
    fp_size       INTEGER,
    fp_mtime_ns   INTEGER,
    fp_inode      INTEGER,
    fp_device     INTEGER,
    created_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    claimed_by    TEXT,
    claimed_until TEXT,
    magnet        TEXT,
    expires_at    TEXT,
    published_at  TEXT
);
INSERT INTO lanseedd_torrents_new (file_id, path, state, generation, infohash, name, size, error,
    fp_size, fp_mtime_ns, fp_inode, fp_device, created_at, updated_at, claimed_by, claimed_until, magnet,
    published_at)
SELECT file_id, path, state, generation, infohash, name, size, error,
    fp_size, fp_mtime_ns, fp_inode, fp_device, created_at, updated_at, claimed_by, claimed_until, magnet,
    CASE WHEN state = 'ready' THEN updated_at END
FROM lanseedd_torrents;
DROP TABLE lanseedd_torrents;
ALTER TABLE lanseedd_torrents_new RENAME TO lanseedd_torrents;
CREATE INDEX lanseedd_torrents_state ON lanseedd_torrents (state);
CREATE INDEX lanseedd_torrents_infohash ON lanseedd_torrents (infohash);
CREATE INDEX lanseedd_torrents_claim ON lanseedd_torrents (state, claimed_by);

-- +goose Down
-- The wider CHECK stays (harmless to version 3); expired rows are made
-- again, and the triggers, which name the dropped columns, are reinstalled
-- by the next `migrate`.
DROP TRIGGER IF EXISTS lanseedd_catalog_insert;
DROP TRIGGER IF EXISTS lanseedd_catalog_update;
DROP TRIGGER IF EXISTS lanseedd_catalog_delete;
DROP TRIGGER IF EXISTS lanseedd_catalog_expires;
DELETE FROM lanseedd_meta WHERE "key" = 'triggers_sha256';
UPDATE lanseedd_torrents SET state = 'pending', generation = generation + 1 WHERE state = 'expired';
ALTER TABLE lanseedd_torrents DROP COLUMN published_at;
ALTER TABLE lanseedd_torrents DROP COLUMN expires_at;
