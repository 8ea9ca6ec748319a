-- Each grant's subject, so that one person's grants at one client can be
-- counted and held to a number (store.GrantsPerSubject). Grants recorded before
-- have none and are not counted; they end at their expiry as before.
ALTER TABLE op_grants ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX op_grants_subject ON op_grants (client_id, subject, expires_at);
