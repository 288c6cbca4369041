-- Schema 7: the user's routing choices per account (issue 17), beside the
-- other user choices (label, disabled). Only the user's commands write
-- them; the engine never does.
--
--   priority        higher is used first under routing.policy = "priority"
--   reserve         fraction of each family kept back for other use: the
--                   proxy counts the account as exhausted at that level
--   families        comma-separated family names the proxy may route to
--                   the account ("" = every family)
--   proxy_disabled  1: monitored only, never routed to

ALTER TABLE accounts ADD COLUMN priority INTEGER NOT NULL DEFAULT 0
    CHECK (priority BETWEEN -1000 AND 1000);
ALTER TABLE accounts ADD COLUMN reserve REAL NOT NULL DEFAULT 0
    CHECK (reserve >= 0 AND reserve < 1);
ALTER TABLE accounts ADD COLUMN families TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN proxy_disabled INTEGER NOT NULL DEFAULT 0
    CHECK (proxy_disabled IN (0, 1));

-- A running process reloads the accounts when the counter moves (schema 5):
-- a routing change must reach the proxy like a disable does.
CREATE TRIGGER accounts_version_routing AFTER UPDATE OF
    priority, reserve, families, proxy_disabled ON accounts
BEGIN UPDATE meta SET value = value + 1 WHERE key = 'accounts_version'; END;
