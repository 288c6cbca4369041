-- Schema 3: every account remembers the OAuth client its refresh token
-- belongs to (a token refreshes only with the client that issued it), and
-- two engine states for it: needs_client (the client is not configured)
-- and client_mismatch (Google said the token belongs to another client).

-- '' is the configured default client: existing accounts were signed in
-- with it.
ALTER TABLE accounts ADD COLUMN oauth_client_id TEXT NOT NULL DEFAULT '';

-- SQLite cannot alter a CHECK constraint: the state column is rebuilt
-- beside the old one (rows, ids and their history stay untouched; no
-- table is dropped, so no foreign-key cascade fires).
ALTER TABLE accounts ADD COLUMN state_next TEXT NOT NULL DEFAULT 'active'
    CHECK (state_next IN ('active', 'disabled', 'forbidden', 'validation_required', 'needs_login',
                          'needs_client', 'client_mismatch'));
UPDATE accounts SET state_next = state;
ALTER TABLE accounts DROP COLUMN state;
ALTER TABLE accounts RENAME COLUMN state_next TO state;
