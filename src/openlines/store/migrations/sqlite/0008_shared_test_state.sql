-- What several workers must agree on while a bot is tested: the fault rules of openlines.fault.add
-- and the request-rate buckets of [limits]. A SQLite file has one server process, which keeps both
-- in memory; the tables exist so that both dialects have the same schema.
CREATE TABLE faults (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    spec        TEXT NOT NULL,
    remaining   INTEGER,
    hits        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE rate_buckets (
    key         TEXT PRIMARY KEY,
    level       REAL NOT NULL,
    at          REAL NOT NULL,
    accepted    INTEGER NOT NULL DEFAULT 1
);
