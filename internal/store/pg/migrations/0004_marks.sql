-- Schema 4 (mirrors 0004_marks.sql): the marks learned from 429s, one row
-- per (account, family).

CREATE TABLE marks (
    account_id BIGINT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    family     TEXT   NOT NULL,
    kind       TEXT   NOT NULL CHECK (kind IN ('cooldown', 'exhausted')),
    until      BIGINT NOT NULL,
    since      BIGINT NOT NULL,
    reason     TEXT   NOT NULL DEFAULT '',
    PRIMARY KEY (account_id, family)
);
CREATE INDEX marks_until ON marks(until);
