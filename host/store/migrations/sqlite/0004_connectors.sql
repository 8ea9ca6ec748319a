-- The connectors the idplug processes on this database serve, and when each was
-- last removed: the sessions a connector made before its removal stay signed out
-- when it is configured again, after a restart as within one process.
CREATE TABLE connectors (
  id         TEXT PRIMARY KEY,
  configured INTEGER NOT NULL, -- 1: in the configuration of the last process that set the list
  removed_at INTEGER NOT NULL  -- the last removal, Unix ms; 0: never removed
);
