-- Schema 6 (mirrors 0006_poller.sql): one poller per database, the sync
-- outcome columns and the sync counter.
--
-- On PostgreSQL the poller holds a session-level advisory lock instead of
-- SQLite's lease row: PostgreSQL releases it the moment the poller's
-- connection ends (the process exits or is killed), so there is no lease
-- to expire. What SQLite has no table for lives here instead: every
-- running instance's heartbeat (instances), so the dashboard can say how
-- many are live and which one polls.

CREATE TABLE instances (
    holder     TEXT    PRIMARY KEY, -- quota.Options.Holder: host, pid and a random part
    host       TEXT    NOT NULL DEFAULT '',
    pid        BIGINT  NOT NULL DEFAULT 0,
    started_at BIGINT  NOT NULL,
    heartbeat  BIGINT  NOT NULL,    -- wall-clock Unix ms of the last beat
    poller     BOOLEAN NOT NULL DEFAULT false
);
CREATE INDEX instances_heartbeat ON instances(heartbeat);

ALTER TABLE accounts ADD COLUMN synced_at        BIGINT NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN sync_error       TEXT   NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN unreadable       TEXT   NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN unreadable_cause TEXT   NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN unreadable_until BIGINT NOT NULL DEFAULT 0;

INSERT INTO meta (key, value) VALUES ('sync_version', 0);
