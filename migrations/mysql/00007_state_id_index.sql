-- Rows are read a page at a time in file_id order within a state (the
-- sweep of the ready rows, the restore of the rows in error): an index on
-- (state, file_id) reads exactly one page, whatever the planner believes of
-- how many rows each state has. (InnoDB's index on state alone already ends
-- with the key; the same index under the name the other dialects use.)

-- +goose Up
ALTER TABLE lanseedd_torrents ADD INDEX lanseedd_torrents_state_id (state, file_id), DROP INDEX lanseedd_torrents_state;

-- +goose Down
ALTER TABLE lanseedd_torrents ADD INDEX lanseedd_torrents_state (state), DROP INDEX lanseedd_torrents_state_id;
