-- Flows that finished: a sealed flow whose id is here is never accepted again.
CREATE TABLE consumed_flows (
  id         TEXT PRIMARY KEY,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX consumed_flows_expires ON consumed_flows (expires_at);

-- Browser sessions: the cookie names a row by a random id; the row holds the
-- SHA-256 of that id, so the table alone gives no usable cookie.
CREATE TABLE user_sessions (
  id         TEXT PRIMARY KEY,
  data       BLOB NOT NULL,
  expires_at INTEGER NOT NULL,
  revoked    INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

-- The token vault: one sealed token set per connector instance and user.
CREATE TABLE vault_tokens (
  connector      TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  sealed         BLOB NOT NULL,
  expires_at     INTEGER NOT NULL,
  refresh_failed INTEGER NOT NULL DEFAULT 0,
  updated_at     INTEGER NOT NULL,
  PRIMARY KEY (connector, user_id)
) WITHOUT ROWID;
