-- PostgreSQL twin of sqlite/0003_delivery.sql: the same tables; INTEGER → BIGINT (booleans stay 0/1 integers so
-- queries are identical), REAL → DOUBLE PRECISION, generated ids → BIGSERIAL.
-- Event delivery (issue 7): who an outbox row is for, how it went, app event bindings and the
-- offline queue of apps that poll with event.offline.get.

-- The application_token sent in auth[application_token] and used as the signature key
-- ('' = resolved from the bot at delivery time), the binding that produced the row
-- (event_handler_id), the broadcast row it was expanded from, the owning app and when it arrived.
ALTER TABLE outbox ADD COLUMN app_token TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN handler_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN origin_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN app_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN delivered DOUBLE PRECISION NOT NULL DEFAULT 0;
CREATE INDEX outbox_status ON outbox(status, id);
CREATE INDEX outbox_pending_order ON outbox(target, chat_id, id) WHERE status = 'pending';

-- event.bind: an app's handler for an event (kind 'app'), and the handler URLs of bots, recorded
-- the first time one of their events is delivered (kind 'bot') so every delivery has a handler id.
CREATE TABLE event_bindings (
    id          BIGSERIAL PRIMARY KEY,
    app_id      TEXT NOT NULL,                          -- OAuth client_id, or "custom" + CLIENT_ID
    event       TEXT NOT NULL,                          -- upper case, e.g. ONSESSIONSTART
    handler     TEXT NOT NULL DEFAULT '',               -- '' for offline bindings
    auth_type   BIGINT NOT NULL DEFAULT 0,             -- user id the event's tokens belong to
    offline     BIGINT NOT NULL DEFAULT 0,
    kind        TEXT NOT NULL DEFAULT 'app',            -- app | bot
    created     DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX event_bindings_unique ON event_bindings(app_id, event, handler, auth_type, offline);
CREATE INDEX event_bindings_event ON event_bindings(event, offline);

-- Events kept for apps bound with event_type=offline, read by event.offline.get.
CREATE TABLE offline_events (
    id          BIGSERIAL PRIMARY KEY,
    app_id      TEXT NOT NULL,
    event       TEXT NOT NULL,
    data        TEXT NOT NULL,                          -- JSON
    additional  TEXT NOT NULL DEFAULT '{}',             -- JSON
    message_id  BIGINT NOT NULL DEFAULT 0,             -- the outbox row it came from
    created     DOUBLE PRECISION NOT NULL,
    process_id  TEXT NOT NULL DEFAULT '',               -- set while reserved by event.offline.get clear=0
    error       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX offline_events_app ON offline_events(app_id, id);
