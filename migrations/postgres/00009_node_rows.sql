-- Which node seeds what. A ready row's infohash and fingerprint are those
-- of the node that hashed it (node; NULL for rows made before nodes were
-- recorded, which count as every node's own). Each other node checks its
-- own copy of the row's path and records here what it found: the same
-- bytes (seeding, with its own fingerprint), other bytes (conflict, with
-- the infohash of its copy; the row keeps its infohash), or no file
-- (missing). row_infohash is the row's infohash the copy was checked
-- against: a record of another is out of date, and the node checks again.

-- +goose Up
ALTER TABLE lanseedd_torrents ADD COLUMN node TEXT;
CREATE TABLE lanseedd_node_rows (
    file_id      BIGINT      NOT NULL,
    node         TEXT        NOT NULL,
    state        TEXT        NOT NULL CHECK (state IN ('seeding', 'conflict', 'missing', 'error')),
    infohash     TEXT,
    row_infohash TEXT        NOT NULL,
    error        TEXT,
    fp_size      BIGINT,
    fp_mtime_ns  BIGINT,
    fp_inode     BIGINT,
    fp_device    BIGINT,
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (file_id, node)
);
CREATE INDEX lanseedd_node_rows_infohash ON lanseedd_node_rows (infohash);
CREATE INDEX lanseedd_node_rows_state ON lanseedd_node_rows (state);

-- +goose Down
DROP TABLE lanseedd_node_rows;
ALTER TABLE lanseedd_torrents DROP COLUMN node;
