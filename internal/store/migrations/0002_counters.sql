-- Schema 2: named counters (proxy and sync totals) kept across restarts.

CREATE TABLE counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
