-- Claims let several daemons share one catalog: a row being worked on is
-- held by one daemon (claimed_by) until its lease (claimed_until) runs out.

-- +goose Up
ALTER TABLE lanseedd_torrents
    ADD COLUMN claimed_by    VARCHAR(255) CHARACTER SET utf8mb4 NULL,
    ADD COLUMN claimed_until DATETIME(6)  NULL,
    -- The poll reads (file_id, generation) of unclaimed work from this index
    -- alone (InnoDB keeps the primary key in it).
    ADD INDEX lanseedd_torrents_claim (state, claimed_by, generation);

-- +goose Down
ALTER TABLE lanseedd_torrents
    DROP INDEX lanseedd_torrents_claim,
    DROP COLUMN claimed_until,
    DROP COLUMN claimed_by;
