-- Claims let several daemons share one catalog: a row being worked on is
-- held by one daemon (claimed_by) until its lease (claimed_until) runs out.

-- +goose Up
ALTER TABLE lanseedd_torrents ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until TIMESTAMPTZ;
CREATE INDEX lanseedd_torrents_claim ON lanseedd_torrents (state, claimed_by);

-- +goose Down
DROP INDEX lanseedd_torrents_claim;
ALTER TABLE lanseedd_torrents DROP COLUMN claimed_until, DROP COLUMN claimed_by;
