-- Which node seeds what. A ready row's infohash and fingerprint are those
-- of the node that hashed it (node; NULL for rows made before nodes were
-- recorded, which count as every node's own). Each other node checks its
-- own copy of the row's path and records here what it found: the same
-- bytes (seeding, with its own fingerprint), other bytes (conflict, with
-- the infohash of its copy; the row keeps its infohash), or no file
-- (missing). row_infohash is the row's infohash the copy was checked
-- against: a record of another is out of date, and the node checks again.

-- +goose Up
ALTER TABLE lanseedd_torrents ADD COLUMN node VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL;
CREATE TABLE lanseedd_node_rows (
    file_id      BIGINT       NOT NULL,
    node         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    state        VARCHAR(16)  CHARACTER SET ascii NOT NULL,
    infohash     CHAR(40)     CHARACTER SET ascii NULL,
    row_infohash CHAR(40)     CHARACTER SET ascii NOT NULL,
    error        TEXT         CHARACTER SET utf8mb4 NULL,
    fp_size      BIGINT       NULL,
    fp_mtime_ns  BIGINT       NULL,
    fp_inode     BIGINT       NULL,
    fp_device    BIGINT       NULL,
    updated_at   DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (file_id, node),
    CONSTRAINT lanseedd_node_rows_state_check CHECK (state IN ('seeding', 'conflict', 'missing', 'error')),
    INDEX lanseedd_node_rows_infohash (infohash),
    INDEX lanseedd_node_rows_state (state)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- +goose Down
DROP TABLE lanseedd_node_rows;
ALTER TABLE lanseedd_torrents DROP COLUMN node;
