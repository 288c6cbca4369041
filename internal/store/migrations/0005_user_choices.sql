-- Schema 5: the user's choices and the engine's states live in separate
-- columns, and every change to accounts or marks moves a counter that
-- other processes on the database poll.
--
-- "disabled" was a value of the state column, which the engine also
-- writes: a sync that saw an account recover wrote "active" over the
-- user's "disabled". Now disabled is the user's own column and state
-- holds only what the engine learned (forbidden, needs login, ...).

ALTER TABLE accounts ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN disabled_at INTEGER NOT NULL DEFAULT 0;
UPDATE accounts SET disabled = 1, disabled_at = state_at WHERE state = 'disabled';

ALTER TABLE accounts ADD COLUMN state_next TEXT NOT NULL DEFAULT 'active'
    CHECK (state_next IN ('active', 'forbidden', 'validation_required', 'needs_login',
                          'needs_client', 'client_mismatch'));
UPDATE accounts SET
    state_next   = CASE state WHEN 'disabled' THEN 'active' ELSE state END,
    state_reason = CASE state WHEN 'disabled' THEN '' ELSE state_reason END;
ALTER TABLE accounts DROP COLUMN state;
ALTER TABLE accounts RENAME COLUMN state_next TO state;

-- Change counters. accounts_version moves on every change another process
-- must act on: an account added, removed, disabled or enabled, labelled,
-- its state, client, project or tokens changed (not a refreshed access
-- token), and every mark set or cleared.
CREATE TABLE meta (
    key   TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('accounts_version', 0);

CREATE TRIGGER accounts_version_insert AFTER INSERT ON accounts
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
CREATE TRIGGER accounts_version_delete AFTER DELETE ON accounts
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
CREATE TRIGGER accounts_version_update AFTER UPDATE OF
    email, label, refresh_token, project_id, tier, tier_id, tier_name, state, state_reason,
    validation_url, oauth_client_id, disabled ON accounts
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
CREATE TRIGGER marks_version_insert AFTER INSERT ON marks
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
CREATE TRIGGER marks_version_update AFTER UPDATE ON marks
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
CREATE TRIGGER marks_version_delete AFTER DELETE ON marks
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
