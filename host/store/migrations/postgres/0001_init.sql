-- Flows that finished: a sealed flow whose id is here is never accepted again.
CREATE TABLE consumed_flows (
  id         TEXT PRIMARY KEY,
  expires_at BIGINT NOT NULL
);
CREATE INDEX consumed_flows_expires ON consumed_flows (expires_at);

-- Browser sessions: the cookie names a row by a random id; the row holds the
-- SHA-256 of that id, so the table alone gives no usable cookie.
CREATE TABLE user_sessions (
  id         TEXT PRIMARY KEY,
  data       BYTEA NOT NULL,
  expires_at BIGINT NOT NULL,
  revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

-- The token vault: one sealed token set per connector instance and user.
CREATE TABLE vault_tokens (
  connector      TEXT NOT NULL,
  user_id        TEXT NOT NULL,
  key_id         TEXT NOT NULL,
  sealed         BYTEA NOT NULL,
  expires_at     BIGINT NOT NULL,
  refresh_failed BOOLEAN NOT NULL DEFAULT FALSE,
  updated_at     BIGINT NOT NULL,
  PRIMARY KEY (connector, user_id)
);
