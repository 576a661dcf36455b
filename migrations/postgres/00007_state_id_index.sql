-- Rows are read a page at a time in file_id order within a state (the
-- sweep of the ready rows, the restore of the rows in error): an index on
-- (state, file_id) reads exactly one page, whatever the planner believes of
-- how many rows each state has (after a first publish of a million rows,
-- PostgreSQL's statistics still saw few ready ones and sorted them all for
-- every page). It replaces the index on state alone.

-- +goose Up
CREATE INDEX lanseedd_torrents_state_id ON lanseedd_torrents (state, file_id);
DROP INDEX lanseedd_torrents_state;

-- +goose Down
CREATE INDEX lanseedd_torrents_state ON lanseedd_torrents (state);
DROP INDEX lanseedd_torrents_state_id;
