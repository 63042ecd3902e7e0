-- PostgreSQL twin of sqlite/0007_connectors.sql (INTEGER → BIGINT, REAL → DOUBLE PRECISION).
-- Custom channel connectors (issue 7, imconnector.*): what an application registered, and per
-- Open Lines line whether the connector is switched on and the channel data it set.
CREATE TABLE connectors (
    id                  TEXT PRIMARY KEY,                   -- lower case, no '.'
    app_id              TEXT NOT NULL,                      -- OAuth client_id of the registering app
    name                TEXT NOT NULL,
    icon                TEXT NOT NULL DEFAULT '{}',         -- JSON: DATA_IMAGE, COLOR, SIZE, POSITION
    icon_disabled       TEXT NOT NULL DEFAULT '{}',         -- JSON
    placement_handler   TEXT NOT NULL DEFAULT '',
    options             TEXT NOT NULL DEFAULT '{}',         -- JSON: the boolean flags of register
    created             DOUBLE PRECISION NOT NULL DEFAULT 0
);

CREATE TABLE connector_lines (
    connector   TEXT NOT NULL,
    line_id     BIGINT NOT NULL,
    active      BIGINT NOT NULL DEFAULT 0,
    data        TEXT NOT NULL DEFAULT '{}',                 -- JSON: ID, URL, URL_IM, NAME
    changed     DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (connector, line_id)
);

-- The customer user behind an external user id of a connector (send.messages' user.id), so one
-- person writing again is the same customer and continues the same chat.
CREATE TABLE connector_users (
    connector   TEXT NOT NULL,
    external_id TEXT NOT NULL,
    user_id     BIGINT NOT NULL,
    created     DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (connector, external_id)
);
