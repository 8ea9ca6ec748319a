-- The OpenID Provider's grants: one per authorization code exchanged. Its
-- refresh tokens carry the grant's generation; using one moves the grant to the
-- next, so a refresh token that comes back a second time is caught.
CREATE TABLE op_grants (
  id         TEXT PRIMARY KEY,
  client_id  TEXT NOT NULL,
  generation BIGINT NOT NULL DEFAULT 0,
  expires_at BIGINT NOT NULL,
  revoked    BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX op_grants_expires ON op_grants (expires_at);

-- The provider's signing keys, shared by every replica. sealed is the private
-- key, sealed by idplug; public_jwk the public key as a JWK. retire_at is 0
-- unless the key is retired.
CREATE TABLE op_signing_keys (
  id         TEXT PRIMARY KEY,
  algorithm  TEXT NOT NULL,
  state      TEXT NOT NULL CHECK (state IN ('next', 'active', 'retired')),
  sealed     BYTEA NOT NULL,
  public_jwk BYTEA NOT NULL,
  created_at BIGINT NOT NULL,
  retire_at  BIGINT NOT NULL DEFAULT 0
);
