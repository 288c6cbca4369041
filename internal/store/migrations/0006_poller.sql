-- Schema 6: one poller per database. Processes on one database elect the
-- one that reads every account's quota from the upstream by a lease row
-- it renews (a heartbeat); the others read the figures it writes. A
-- PostgreSQL store would hold an advisory lock instead of the row.

CREATE TABLE poller_lease (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    holder    TEXT    NOT NULL,
    expires   INTEGER NOT NULL, -- wall-clock Unix ms; past it any process may take the lease
    heartbeat INTEGER NOT NULL
);

-- What the poller learned at its last sync of each account, for the other
-- processes to show: when, the error, and why the quota is unreadable.
-- These columns move sync_version, not accounts_version: a sync round is
-- not an account change to reload for.
ALTER TABLE accounts ADD COLUMN synced_at        INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN sync_error       TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN unreadable       TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN unreadable_cause TEXT    NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN unreadable_until INTEGER NOT NULL DEFAULT 0;

-- sync_version moves with every write of quota figures or sync outcomes.
INSERT INTO meta (key, value) VALUES ('sync_version', 0);
