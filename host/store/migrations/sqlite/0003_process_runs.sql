-- The runs of the one idplug process that uses this file. Consumed flow ids live
-- in that process's memory and are written to consumed_flows when it stops
-- gracefully; a run that did not (a crash) leaves clean at 0, and the next run
-- then refuses every flow sealed before it (floor). One row.
CREATE TABLE process_runs (
  id    INTEGER PRIMARY KEY CHECK (id = 1),
  run   INTEGER NOT NULL, -- the last run started
  floor INTEGER NOT NULL, -- flows sealed in a run before this one are refused
  clean INTEGER NOT NULL  -- 1: the last run stopped gracefully and saved its consumed flows
);
-- Before this table, every consumed flow was written at once: the state on disk
-- is complete, as after a graceful stop.
INSERT INTO process_runs (id, run, floor, clean) VALUES (1, 0, 0, 1);
