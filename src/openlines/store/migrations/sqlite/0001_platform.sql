-- Platform: portal metadata, users, credentials.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE users (
    id             INTEGER PRIMARY KEY,
    kind           TEXT NOT NULL DEFAULT 'employee',   -- employee | bot | customer
    name           TEXT NOT NULL DEFAULT '',
    last_name      TEXT NOT NULL DEFAULT '',
    email          TEXT NOT NULL DEFAULT '',
    work_position  TEXT NOT NULL DEFAULT '',
    gender         TEXT NOT NULL DEFAULT '',
    active         INTEGER NOT NULL DEFAULT 1,
    extranet       INTEGER NOT NULL DEFAULT 0,
    admin          INTEGER NOT NULL DEFAULT 0,
    date_register  REAL NOT NULL DEFAULT 0,
    extra          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX users_kind ON users(kind, id);

CREATE TABLE webhooks (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id),
    code_hash  TEXT NOT NULL UNIQUE,
    scopes     TEXT NOT NULL,                          -- comma-separated
    title      TEXT NOT NULL DEFAULT '',
    created    REAL NOT NULL DEFAULT 0
);

CREATE TABLE apps (
    id                 INTEGER PRIMARY KEY,
    client_id          TEXT NOT NULL UNIQUE,
    secret_hash        TEXT NOT NULL,
    scopes             TEXT NOT NULL,
    install_user       INTEGER NOT NULL,
    application_token  TEXT NOT NULL,
    redirect_uri       TEXT NOT NULL DEFAULT '',
    name               TEXT NOT NULL DEFAULT '',
    active             INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE oauth_codes (
    code_hash  TEXT PRIMARY KEY,
    app_id     INTEGER NOT NULL REFERENCES apps(id),
    user_id    INTEGER NOT NULL,
    scopes     TEXT NOT NULL,
    expires    REAL NOT NULL
);

CREATE TABLE oauth_tokens (
    token_hash  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,                         -- access | refresh
    app_id      INTEGER NOT NULL REFERENCES apps(id),
    user_id     INTEGER NOT NULL,
    scopes      TEXT NOT NULL,
    expires     REAL NOT NULL
);
CREATE INDEX oauth_tokens_expires ON oauth_tokens(expires);
