-- Schema 8: the spend ledger (issue 14) and usage statistics (issue 16.3).
-- Plain SQL that ports to PostgreSQL as it is (INTEGER ids become BIGINT
-- identities there; the rest is standard).

-- What the proxies completed, per (account, family, model, client). Raw rows
-- are one process's (holder) ledger flush of a few seconds; after a day they
-- are rolled up into one row per hour (holder '', rolled_up 1), like
-- quota_history, and pruned with the same retention.
-- charged counts the requests the upstream accepted: they spent quota,
-- whether the client got its whole answer or not. requests counts the
-- answered ones and errors the failed ones; tokens (usageMetadata) come from
-- answered requests only.
CREATE TABLE token_usage (
    id                INTEGER PRIMARY KEY,
    account_id        INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    family            TEXT    NOT NULL,
    model             TEXT    NOT NULL,
    client            TEXT    NOT NULL DEFAULT '',
    holder            TEXT    NOT NULL DEFAULT '',
    at                INTEGER NOT NULL, -- Unix ms: the flush (raw) or the hour's start (rolled up)
    charged           INTEGER NOT NULL DEFAULT 0,
    requests          INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    candidates_tokens INTEGER NOT NULL DEFAULT 0,
    thoughts_tokens   INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    total_tokens      INTEGER NOT NULL DEFAULT 0,
    rolled_up         INTEGER NOT NULL DEFAULT 0
);
-- The estimates read the last minutes of every process's spending; usage
-- reports read a span; retention walks by age.
CREATE INDEX token_usage_at ON token_usage(at);
CREATE INDEX token_usage_account ON token_usage(account_id, at);

-- Tokens per conversation (the proxy's session key) and client, for the
-- dashboard's top conversations. account_id and model are the last that
-- served it; no foreign key, so a removed account leaves its figures.
CREATE TABLE token_usage_sessions (
    session           TEXT    NOT NULL,
    client            TEXT    NOT NULL DEFAULT '',
    account_id        INTEGER NOT NULL DEFAULT 0,
    model             TEXT    NOT NULL DEFAULT '',
    first_at          INTEGER NOT NULL,
    last_at           INTEGER NOT NULL,
    requests          INTEGER NOT NULL DEFAULT 0,
    errors            INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    candidates_tokens INTEGER NOT NULL DEFAULT 0,
    thoughts_tokens   INTEGER NOT NULL DEFAULT 0,
    cached_tokens     INTEGER NOT NULL DEFAULT 0,
    total_tokens      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (session, client)
);
CREATE INDEX token_usage_sessions_last ON token_usage_sessions(last_at);

-- What one request costs: each reading is how far a bucket fell (fell, a
-- fraction) over the requests the proxies sent between two of its figures,
-- per plan, family and window. The engine estimates the cost from the
-- newest readings of each key; older ones are deleted as new ones come.
CREATE TABLE cost_readings (
    id       INTEGER PRIMARY KEY,
    tier     TEXT    NOT NULL,
    family   TEXT    NOT NULL,
    bucket   TEXT    NOT NULL, -- the window ("5h", "weekly")
    at       INTEGER NOT NULL,
    requests REAL    NOT NULL,
    fell     REAL    NOT NULL
);
CREATE INDEX cost_readings_key ON cost_readings(tier, family, bucket, at);

-- spend_version moves with every ledger flush, cost_version with every new
-- reading: the other processes read them again when they move.
INSERT INTO meta (key, value) VALUES ('spend_version', 0);
INSERT INTO meta (key, value) VALUES ('cost_version', 0);
