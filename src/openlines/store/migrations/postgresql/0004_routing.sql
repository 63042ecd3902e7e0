-- PostgreSQL twin of sqlite/0004_routing.sql: the same tables; INTEGER → BIGINT (booleans stay 0/1 integers so
-- queries are identical), REAL → DOUBLE PRECISION, generated ids → BIGSERIAL.
-- Routing (issue 6): operator presence and pause, due timers, the explanation of every distribution,
-- the offers of "all" queues, and an index that finds a line's waiting sessions oldest first.

CREATE TABLE operator_presence (
    user_id      BIGINT PRIMARY KEY,
    status       TEXT NOT NULL DEFAULT 'online',          -- online | away | offline
    paused       BIGINT NOT NULL DEFAULT 0,              -- imopenlines.operator.pause.start
    last_seen    DOUBLE PRECISION NOT NULL DEFAULT 0,                 -- the last status.set (idle timeout)
    date_modify  DOUBLE PRECISION NOT NULL DEFAULT 0
);

-- Due jobs. A job is claimed and applied in one transaction; 'no_answer' rows stay as fired = 1 so
-- the no-answer text goes out once per session.
CREATE TABLE timers (
    id          BIGSERIAL PRIMARY KEY,
    session_id  BIGINT NOT NULL,
    chat_id     BIGINT NOT NULL,
    kind        TEXT NOT NULL,                            -- queue | welcome_bot | auto_close | no_answer
    due         DOUBLE PRECISION NOT NULL,
    version     BIGINT NOT NULL DEFAULT 0,               -- the session's version when armed
    fired       BIGINT NOT NULL DEFAULT 0,
    created     DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX timers_session_kind ON timers(session_id, kind);
CREATE INDEX timers_due ON timers(due, id) WHERE fired = 0;

CREATE TABLE routing_decisions (
    id           BIGSERIAL PRIMARY KEY,
    session_id   BIGINT NOT NULL,
    chat_id      BIGINT NOT NULL,
    line_id      BIGINT NOT NULL,
    cause        TEXT NOT NULL,                           -- queued | opened | queue_timer | operator_free | ...
    queue_type   TEXT NOT NULL,
    result       TEXT NOT NULL,                           -- assigned | kept | offered | waiting | returned
    operator_id  BIGINT NOT NULL DEFAULT 0,
    transfer_id  BIGINT NOT NULL DEFAULT 0,
    candidates   TEXT NOT NULL DEFAULT '[]',              -- JSON: [{user_id, verdict, reason}]
    date_create  DOUBLE PRECISION NOT NULL
);
CREATE INDEX routing_decisions_session ON routing_decisions(session_id, id);

CREATE TABLE routing_offers (
    session_id   BIGINT NOT NULL,
    user_id      BIGINT NOT NULL,
    line_id      BIGINT NOT NULL,
    date_create  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (session_id, user_id)
);
CREATE INDEX routing_offers_user ON routing_offers(user_id);

CREATE INDEX sessions_waiting ON sessions(line_id, id) WHERE closed = 0 AND owner_type = 'queue';
CREATE INDEX line_queue_activity ON line_queue(line_id, last_activity, sort, user_id);  -- evenly
CREATE INDEX line_queue_order ON line_queue(line_id, sort, user_id);  -- strictly, all
