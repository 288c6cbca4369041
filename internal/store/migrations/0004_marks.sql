-- Schema 4: the marks the proxy learns from 429s (an exhausted family
-- until its reset, a cooldown), so they survive a restart and every
-- process on the database sees them. One row per (account, family);
-- expired rows are ignored on load and pruned by compaction.

CREATE TABLE marks (
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    family     TEXT    NOT NULL,
    kind       TEXT    NOT NULL CHECK (kind IN ('cooldown', 'exhausted')),
    until      INTEGER NOT NULL,
    since      INTEGER NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, family)
) WITHOUT ROWID;
CREATE INDEX marks_until ON marks(until);
