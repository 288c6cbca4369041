-- Schema 7 (mirrors 0007_routing.sql): the user's routing choices per
-- account.
--
-- On PostgreSQL the conversations' account bindings live here too, so a
-- conversation keeps its account whichever instance its requests reach
-- (SQLite keeps them in each process's memory). key is a hash of the
-- session key and family, never the client's session id itself.

ALTER TABLE accounts ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
    CHECK (priority BETWEEN -1000 AND 1000);
ALTER TABLE accounts ADD COLUMN reserve DOUBLE PRECISION NOT NULL DEFAULT 0
    CHECK (reserve >= 0 AND reserve < 1);
ALTER TABLE accounts ADD COLUMN families TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN proxy_disabled BOOLEAN NOT NULL DEFAULT false;

CREATE CONSTRAINT TRIGGER accounts_version_routing AFTER UPDATE OF
    priority, reserve, families, proxy_disabled ON accounts
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION quotatui_accounts_version();

CREATE TABLE session_bindings (
    key        TEXT    PRIMARY KEY,
    account_id BIGINT  NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    last_used  BIGINT  NOT NULL, -- Unix ms on the proxy's clock
    quota_free BOOLEAN NOT NULL DEFAULT false -- a client's passthrough calls, not a conversation
);
CREATE INDEX session_bindings_last_used ON session_bindings(last_used);
