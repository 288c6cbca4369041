-- Schema 3 (mirrors 0003_oauth_clients.sql): the OAuth client of every
-- refresh token, and the states needs_client and client_mismatch.

ALTER TABLE accounts ADD COLUMN oauth_client_id TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts DROP CONSTRAINT accounts_state_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_state_check
    CHECK (state IN ('active', 'disabled', 'forbidden', 'validation_required', 'needs_login',
                     'needs_client', 'client_mismatch'));
