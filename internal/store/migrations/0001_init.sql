-- Schema 1: accounts, quota history and events. Times are Unix
-- milliseconds; 0 means unknown or never.

CREATE TABLE accounts (
    id              INTEGER PRIMARY KEY,
    email           TEXT    NOT NULL UNIQUE COLLATE NOCASE,
    label           TEXT    NOT NULL DEFAULT '',
    refresh_token   TEXT    NOT NULL DEFAULT '',
    access_token    TEXT    NOT NULL DEFAULT '',
    access_expiry   INTEGER NOT NULL DEFAULT 0,
    project_id      TEXT    NOT NULL DEFAULT '',
    tier            TEXT    NOT NULL DEFAULT '',
    tier_id         TEXT    NOT NULL DEFAULT '',
    tier_name       TEXT    NOT NULL DEFAULT '',
    tier_checked_at INTEGER NOT NULL DEFAULT 0,
    state           TEXT    NOT NULL DEFAULT 'active'
        CHECK (state IN ('active', 'disabled', 'forbidden', 'validation_required', 'needs_login')),
    state_reason    TEXT    NOT NULL DEFAULT '',
    state_at        INTEGER NOT NULL DEFAULT 0,
    validation_url  TEXT    NOT NULL DEFAULT '',
    added_at        INTEGER NOT NULL
);

-- One row per change of a bucket's figure; last_seen moves forward while
-- the figure stays the same. rolled_up marks hourly aggregates.
CREATE TABLE quota_history (
    id         INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    family     TEXT    NOT NULL,
    bucket     TEXT    NOT NULL, -- the window ("5h", "weekly"); WINDOW is an SQL keyword
    fraction   REAL    NOT NULL,
    reset_time INTEGER NOT NULL DEFAULT 0,
    at         INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    rolled_up  INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX quota_history_series ON quota_history(account_id, family, bucket, at);
-- Retention pruning walks rows by age.
CREATE INDEX quota_history_at ON quota_history(at);
-- Compaction looks for raw rows only; rolled-up rows stay out of this index.
CREATE INDEX quota_history_raw ON quota_history(account_id, at) WHERE rolled_up = 0;

-- The newest history row of each series, so Latest and RecordSync never
-- scan the history. Maintained by RecordSync.
CREATE TABLE quota_latest (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    family     TEXT    NOT NULL,
    bucket     TEXT    NOT NULL,
    history_id INTEGER NOT NULL REFERENCES quota_history(id) ON DELETE CASCADE,
    PRIMARY KEY (account_id, family, bucket)
) WITHOUT ROWID;
-- Foreign-key cascades from quota_history look rows up by history_id.
CREATE INDEX quota_latest_history ON quota_latest(history_id);

CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    family     TEXT    NOT NULL DEFAULT '',
    message    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_at ON events(at);
CREATE INDEX events_account ON events(account_id, at);
