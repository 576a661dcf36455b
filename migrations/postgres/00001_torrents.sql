-- lanseedd's own state: one row per catalog row, written by the triggers on
-- the catalog table and by the daemon. The catalog site reads it.

-- +goose Up
CREATE TABLE lanseedd_torrents (
    file_id     BIGINT      PRIMARY KEY,
    path        TEXT        NOT NULL,
    state       TEXT        NOT NULL DEFAULT 'pending'
                CHECK (state IN ('pending', 'ready', 'missing', 'error', 'deleted')),
    generation  BIGINT      NOT NULL DEFAULT 1,
    infohash    TEXT,
    name        TEXT,
    size        BIGINT,
    error       TEXT,
    fp_size     BIGINT,
    fp_mtime_ns BIGINT,
    fp_inode    BIGINT,
    fp_device   BIGINT,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
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
