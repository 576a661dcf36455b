-- Rows are read a page at a time in file_id order within a state (the
-- sweep of the ready rows, the restore of the rows in error): an index on
-- (state, file_id) reads exactly one page, whatever the planner believes of
-- how many rows each state has (after a first publish of a million rows,
-- PostgreSQL's statistics still saw few ready ones and sorted them all for
-- every page). It replaces the index on state alone. Likewise the lookup of
-- a ready row by infohash, the first of them by file_id: on (infohash,
-- file_id) it reads one entry, where a planner without statistics walked the
-- key in order and filtered a million rows.

-- +goose Up
CREATE INDEX lanseedd_torrents_state_id ON lanseedd_torrents (state, file_id);
DROP INDEX lanseedd_torrents_state;
CREATE INDEX lanseedd_torrents_infohash_id ON lanseedd_torrents (infohash, file_id);
DROP INDEX lanseedd_torrents_infohash;

-- +goose Down
CREATE INDEX lanseedd_torrents_state ON lanseedd_torrents (state);
DROP INDEX lanseedd_torrents_state_id;
CREATE INDEX lanseedd_torrents_infohash ON lanseedd_torrents (infohash);
DROP INDEX lanseedd_torrents_infohash_id;
