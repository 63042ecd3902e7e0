-- Event delivery (issue 7): every attempt of every delivery, for `openlines events show` and
-- openlines.event.delivery.get. Rows go with their outbox row when old deliveries are purged.

CREATE TABLE delivery_attempts (
    id           BIGSERIAL PRIMARY KEY,
    outbox_id    BIGINT NOT NULL,
    attempt      BIGINT NOT NULL,                     -- 1 for the first try
    at           DOUBLE PRECISION NOT NULL,                        -- server clock when it was made
    duration     DOUBLE PRECISION NOT NULL DEFAULT 0,              -- seconds on the wire (real time)
    status_code  BIGINT NOT NULL DEFAULT 0,           -- the handler's HTTP status (0: no answer)
    error        TEXT NOT NULL DEFAULT ''              -- '' when delivered
);
CREATE INDEX delivery_attempts_outbox ON delivery_attempts(outbox_id, id);
CREATE INDEX outbox_finished ON outbox(status, created) WHERE status IN ('delivered', 'expanded');
