-- lanseedd's own state: one row per catalog row, written by the triggers on
-- the catalog table and by the daemon. The catalog site reads it. Times are
-- UTC; paths compare byte for byte (utf8mb4_bin), as the file system does.

-- +goose Up
CREATE TABLE lanseedd_torrents (
    file_id     BIGINT       NOT NULL PRIMARY KEY,
    path        TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    state       VARCHAR(16)  CHARACTER SET ascii NOT NULL DEFAULT 'pending',
    generation  BIGINT       NOT NULL DEFAULT 1,
    infohash    CHAR(40)     CHARACTER SET ascii NULL,
    name        TEXT         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NULL,
    size        BIGINT       NULL,
    error       TEXT         CHARACTER SET utf8mb4 NULL,
    fp_size     BIGINT       NULL,
    fp_mtime_ns BIGINT       NULL,
    fp_inode    BIGINT       NULL,
    fp_device   BIGINT       NULL,
    created_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    updated_at  DATETIME(6)  NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    CONSTRAINT lanseedd_torrents_state_check
        CHECK (state IN ('pending', 'ready', 'missing', 'error', 'deleted')),
    INDEX lanseedd_torrents_state (state),
    INDEX lanseedd_torrents_infohash (infohash)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

CREATE TABLE lanseedd_meta (
    `key`   VARCHAR(64) CHARACTER SET ascii NOT NULL PRIMARY KEY,
    `value` TEXT        CHARACTER SET utf8mb4 NOT NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- +goose Down
DROP TABLE lanseedd_meta;
DROP TABLE lanseedd_torrents;
