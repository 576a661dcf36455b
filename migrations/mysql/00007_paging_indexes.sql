-- Rows are read a page at a time in file_id order within a state (the
-- sweep of the ready rows, the restore of the rows in error): an index on
-- (state, file_id) reads exactly one page, whatever the planner believes of
-- how many rows each state has; likewise (infohash, file_id) for the lookup
-- of the first ready row of an infohash. (InnoDB's indexes on state and on
-- infohash alone already end with the key; the same indexes under the names
-- the other dialects use.)

-- +goose Up
ALTER TABLE lanseedd_torrents ADD INDEX lanseedd_torrents_state_id (state, file_id), DROP INDEX lanseedd_torrents_state,
    ADD INDEX lanseedd_torrents_infohash_id (infohash, file_id), DROP INDEX lanseedd_torrents_infohash;

-- +goose Down
ALTER TABLE lanseedd_torrents ADD INDEX lanseedd_torrents_state (state), DROP INDEX lanseedd_torrents_state_id,
    ADD INDEX lanseedd_torrents_infohash (infohash), DROP INDEX lanseedd_torrents_infohash_id;
