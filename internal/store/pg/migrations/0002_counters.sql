-- Schema 2 (mirrors 0002_counters.sql): named counters kept across restarts.

CREATE TABLE counters (
    name  TEXT   PRIMARY KEY,
    value BIGINT NOT NULL DEFAULT 0
);
