-- Several daemons (nodes) can share one catalog, each with its own content
-- root, tracker and seeder. Each keeps its row here up to date (its
-- heartbeat); a node whose heartbeat is older than the timeout is down,
-- and its tracker leaves the announce lists of the torrents served. A node
-- that stops cleanly clears its heartbeat. instance names the process
-- (host, pid, a random part): two daemons given one name are told apart.

-- +goose Up
CREATE TABLE lanseedd_nodes (
    name         VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY,
    instance     VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
    public_url   TEXT         CHARACTER SET utf8mb4 NOT NULL,
    trackers     TEXT         CHARACTER SET utf8mb4 NOT NULL,
    peers        TEXT         CHARACTER SET utf8mb4 NOT NULL,
    peer_id      CHAR(40)     CHARACTER SET ascii NOT NULL,
    version      VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL,
    started_at   DATETIME(6)  NOT NULL,
    heartbeat_at DATETIME(6)  NULL
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4;

-- +goose Down
DROP TABLE lanseedd_nodes;
