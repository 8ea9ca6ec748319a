-- The connectors the idplug replicas on this database serve, and when each was
-- last removed: the sessions a connector made before its removal stay signed out
-- when it is configured again, after a restart as within one process.
CREATE TABLE connectors (
  id         TEXT PRIMARY KEY,
  configured BOOLEAN NOT NULL, -- in the configuration of the last replica that set the list
  removed_at BIGINT NOT NULL   -- the last removal, Unix ms; 0: never removed
);
