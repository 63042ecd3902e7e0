-- PostgreSQL twin of sqlite/0008_shared_test_state.sql.
-- What several workers must agree on while a bot is tested: the fault rules of openlines.fault.add
-- (a COUNT is consumed across all workers) and the request-rate buckets of [limits].
CREATE TABLE faults (
    id          BIGSERIAL PRIMARY KEY,
    spec        TEXT NOT NULL,                              -- JSON: the rule as openlines.fault.add made it
    remaining   BIGINT,                                     -- hits left; NULL with a probability
    hits        BIGINT NOT NULL DEFAULT 0
);

-- UNLOGGED: a bucket update writes no WAL, so a request does not wait for a disk flush to be
-- counted; after a crash the buckets start empty, which a rate limit can afford.
CREATE UNLOGGED TABLE rate_buckets (
    key         TEXT PRIMARY KEY,                           -- ip:<address> or the app/webhook
    level       DOUBLE PRECISION NOT NULL,                  -- requests in the bucket when measured
    at          DOUBLE PRECISION NOT NULL,                  -- when it was measured (the bucket's clock)
    accepted    BOOLEAN NOT NULL DEFAULT TRUE               -- whether the last request got in
);
