-- Schema 5 (mirrors 0005_user_choices.sql): the user's "disabled" apart
-- from the engine's state, and the change counter.
--
-- On PostgreSQL every move of a counter is also announced: the trigger on
-- meta sends NOTIFY on the channel "<schema>.quotatui" with the counter's
-- name as payload, delivered when the transaction commits (and once per
-- transaction, PostgreSQL folding equal notifications). Every instance
-- LISTENs there and acts within milliseconds instead of polling.

ALTER TABLE accounts ADD COLUMN disabled BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE accounts ADD COLUMN disabled_at BIGINT NOT NULL DEFAULT 0;
UPDATE accounts SET disabled = true, disabled_at = state_at WHERE state = 'disabled';
UPDATE accounts SET state = 'active', state_reason = '' WHERE state = 'disabled';
ALTER TABLE accounts DROP CONSTRAINT accounts_state_check;
ALTER TABLE accounts ADD CONSTRAINT accounts_state_check
    CHECK (state IN ('active', 'forbidden', 'validation_required', 'needs_login',
                     'needs_client', 'client_mismatch'));

CREATE TABLE meta (
    key   TEXT   PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('accounts_version', 0);

CREATE FUNCTION quotatui_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify(TG_TABLE_SCHEMA || '.quotatui', NEW.key);
    RETURN NULL;
END $$;
CREATE TRIGGER meta_notify AFTER UPDATE ON meta FOR EACH ROW EXECUTE FUNCTION quotatui_notify();

-- The counter moves at commit (deferred constraint triggers): a writer
-- takes the meta row's lock last, after every row lock of its
-- transaction, so two transactions never wait on each other in a circle.
CREATE FUNCTION quotatui_accounts_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE meta SET value = value + 1 WHERE key = 'accounts_version';
    RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER accounts_version_insert AFTER INSERT ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();
CREATE CONSTRAINT TRIGGER accounts_version_delete AFTER DELETE ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();
CREATE CONSTRAINT TRIGGER accounts_version_update AFTER UPDATE OF
    email, label, refresh_token, project_id, tier, tier_id, tier_name, state, state_reason,
    validation_url, oauth_client_id, disabled ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();
CREATE CONSTRAINT TRIGGER marks_version_insert AFTER INSERT ON marks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();
CREATE CONSTRAINT TRIGGER marks_version_update AFTER UPDATE ON marks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();
CREATE CONSTRAINT TRIGGER marks_version_delete AFTER DELETE ON marks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();
