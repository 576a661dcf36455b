-- lanseedd's own state: one row per catalog row, written by the triggers on
-- the catalog table and by the daemon. The catalog site reads it.

-- +goose Up
CREATE TABLE lanseedd_torrents (
    file_id     INTEGER PRIMARY KEY,
    path        TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'ready', 'missing', 'error', 'deleted')),
    generation  INTEGER NOT NULL DEFAULT 1,
    infohash    TEXT,
    name        TEXT,
    size        INTEGER,
    error       TEXT,
    fp_size     INTEGER,
    fp_mtime_ns INTEGER,
    fp_inode    INTEGER,
    fp_device   INTEGER,
    created_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX lanseedd_torrents_state ON lanseedd_torrents (state);
CREATE INDEX lanseedd_torrents_infohash ON lanseedd_torrents (infohash);

CREATE TABLE lanseedd_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- +goose Down
DROP TABLE lanseedd_meta;
DROP TABLE lanseedd_torrents;
