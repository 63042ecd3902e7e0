-- Event delivery (issue 7): every attempt of every delivery, for `openlines events show` and
-- openlines.event.delivery.get. Rows go with their outbox row when old deliveries are purged.

CREATE TABLE delivery_attempts (
    id           INTEGER PRIMARY KEY,
    outbox_id    INTEGER NOT NULL,
    attempt      INTEGER NOT NULL,                     -- 1 for the first try
    at           REAL NOT NULL,                        -- server clock when it was made
    duration     REAL NOT NULL DEFAULT 0,              -- seconds on the wire (real time)
    status_code  INTEGER NOT NULL DEFAULT 0,           -- the handler's HTTP status (0: no answer)
    error        TEXT NOT NULL DEFAULT ''              -- '' when delivered
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts(outbox_id, id);
CREATE INDEX outbox_finished ON outbox(status, created) WHERE status IN ('delivered', 'expanded');
