-- Several daemons (nodes) can share one catalog, each with its own content
-- root, tracker and seeder. Each keeps its row here up to date (its
-- heartbeat); a node whose heartbeat is older than the timeout is down,
-- and its tracker leaves the announce lists of the torrents served. A node
-- that stops cleanly clears its heartbeat. instance names the process
-- (host, pid, a random part): two daemons given one name are told apart.

-- +goose Up
CREATE TABLE lanseedd_nodes (
    name         TEXT        PRIMARY KEY,
    instance     TEXT        NOT NULL,
    public_url   TEXT        NOT NULL,
    trackers     TEXT        NOT NULL,
    peers        TEXT        NOT NULL,
    peer_id      TEXT        NOT NULL,
    version      TEXT        NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ
);

-- +goose Down
DROP TABLE lanseedd_nodes;
