-- PostgreSQL twin of sqlite/0002_openlines.sql: the same tables; INTEGER → BIGINT (booleans stay 0/1 integers so
-- queries are identical), REAL → DOUBLE PRECISION, generated ids → BIGSERIAL.
-- Open Lines: lines and queues, bots, chats, members, messages, sessions, transfer history, outbox.

CREATE TABLE lines (
    id              BIGSERIAL PRIMARY KEY,
    name            TEXT NOT NULL DEFAULT '',
    active          BIGINT NOT NULL DEFAULT 1,
    queue_type      TEXT NOT NULL DEFAULT 'evenly',      -- evenly | strictly | all
    settings        TEXT NOT NULL DEFAULT '{}',          -- the other line settings, upper-case keys
    date_create     DOUBLE PRECISION NOT NULL DEFAULT 0,
    date_modify     DOUBLE PRECISION NOT NULL DEFAULT 0,
    modify_user_id  BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE line_queue (
    line_id        BIGINT NOT NULL REFERENCES lines(id) ON DELETE CASCADE,
    user_id        BIGINT NOT NULL REFERENCES users(id),
    sort           BIGINT NOT NULL DEFAULT 0,
    last_activity  DOUBLE PRECISION NOT NULL DEFAULT 0,              -- for "evenly": idle longest first
    PRIMARY KEY (line_id, user_id)
);
CREATE INDEX line_queue_user ON line_queue(user_id);

CREATE TABLE bots (
    id                 BIGINT PRIMARY KEY REFERENCES users(id),   -- a bot is a user
    code               TEXT NOT NULL,
    app_id             TEXT NOT NULL,                    -- OAuth client_id, or "custom" + CLIENT_ID
    type               TEXT NOT NULL DEFAULT 'B',        -- B | O | H | S
    openline           BIGINT NOT NULL DEFAULT 0,
    handlers           TEXT NOT NULL DEFAULT '{}',       -- event name -> URL
    application_token  TEXT NOT NULL DEFAULT '',
    date_create        DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX bots_app ON bots(app_id, id);
CREATE INDEX bots_code ON bots(code);

CREATE TABLE bot_commands (
    id                BIGSERIAL PRIMARY KEY,
    bot_id            BIGINT NOT NULL REFERENCES bots(id) ON DELETE CASCADE,
    app_id            TEXT NOT NULL,
    command           TEXT NOT NULL,
    common            BIGINT NOT NULL DEFAULT 0,
    hidden            BIGINT NOT NULL DEFAULT 0,
    extranet_support  BIGINT NOT NULL DEFAULT 0,
    handler           TEXT NOT NULL DEFAULT '',
    lang              TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX bot_commands_bot ON bot_commands(bot_id);

CREATE TABLE chats (
    id               BIGSERIAL PRIMARY KEY,
    type             TEXT NOT NULL DEFAULT 'L',          -- L open line, C group chat, P private
    entity_type      TEXT NOT NULL DEFAULT '',           -- LINES for Open Lines chats
    entity_id        TEXT NOT NULL DEFAULT '',           -- connector|line|external chat|customer
    title            TEXT NOT NULL DEFAULT '',
    author_id        BIGINT NOT NULL DEFAULT 0,         -- the responsible operator (0: none)
    line_id          BIGINT NOT NULL DEFAULT 0,
    session_id       BIGINT NOT NULL DEFAULT 0,         -- the current (or last) session
    customer_id      BIGINT NOT NULL DEFAULT 0,
    connector        TEXT NOT NULL DEFAULT '',
    external_chat_id TEXT NOT NULL DEFAULT '',
    crm_entity_type  TEXT NOT NULL DEFAULT '',
    crm_entity_id    BIGINT NOT NULL DEFAULT 0,
    last_message_id  BIGINT NOT NULL DEFAULT 0,
    date_create      DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX chats_entity ON chats(entity_type, entity_id);
CREATE INDEX chats_crm ON chats(crm_entity_type, crm_entity_id);

CREATE TABLE chat_members (
    chat_id    BIGINT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    user_id    BIGINT NOT NULL REFERENCES users(id),
    manager    BIGINT NOT NULL DEFAULT 0,
    date_join  DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (chat_id, user_id)
);
CREATE INDEX chat_members_user ON chat_members(user_id);

CREATE TABLE messages (
    id           BIGSERIAL PRIMARY KEY,
    chat_id      BIGINT NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    author_id    BIGINT NOT NULL DEFAULT 0,             -- 0: system
    text         TEXT NOT NULL DEFAULT '',
    system       BIGINT NOT NULL DEFAULT 0,
    params       TEXT NOT NULL DEFAULT '{}',             -- ATTACH, KEYBOARD, IMPORTANT_CONNECTOR, ...
    date         DOUBLE PRECISION NOT NULL DEFAULT 0,
    date_modify  DOUBLE PRECISION NOT NULL DEFAULT 0,
    deleted      BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX messages_chat ON messages(chat_id, id);

CREATE TABLE sessions (
    id                    BIGSERIAL PRIMARY KEY,
    chat_id               BIGINT NOT NULL REFERENCES chats(id),
    line_id               BIGINT NOT NULL,
    customer_id           BIGINT NOT NULL,
    user_code             TEXT NOT NULL DEFAULT '',
    source                TEXT NOT NULL DEFAULT '',      -- connector id (livechat, a custom connector)
    mode                  TEXT NOT NULL DEFAULT 'input', -- input (customer started) | output
    status                BIGINT NOT NULL DEFAULT 0,    -- 0 new .. 75 silently closed
    owner_type            TEXT NOT NULL DEFAULT 'queue', -- bot | queue | user : the ONE owner
    operator_id           BIGINT NOT NULL DEFAULT 0,    -- bot or user id; 0 when the queue owns it
    closed                BIGINT NOT NULL DEFAULT 0,
    spam                  BIGINT NOT NULL DEFAULT 0,
    pinned                BIGINT NOT NULL DEFAULT 0,
    wait_answer           BIGINT NOT NULL DEFAULT 1,
    queue_history         TEXT NOT NULL DEFAULT '[]',    -- operators already tried (strictly)
    message_count         BIGINT NOT NULL DEFAULT 0,
    start_id              BIGINT NOT NULL DEFAULT 0,
    end_id                BIGINT NOT NULL DEFAULT 0,
    parent_id             BIGINT NOT NULL DEFAULT 0,
    vote_head             BIGINT NOT NULL DEFAULT 0,
    comment_head          TEXT NOT NULL DEFAULT '',
    date_create           DOUBLE PRECISION NOT NULL DEFAULT 0,
    date_modify           DOUBLE PRECISION NOT NULL DEFAULT 0,
    date_operator         DOUBLE PRECISION NOT NULL DEFAULT 0,
    date_operator_answer  DOUBLE PRECISION NOT NULL DEFAULT 0,
    date_close            DOUBLE PRECISION NOT NULL DEFAULT 0,
    version               BIGINT NOT NULL DEFAULT 0     -- bumped by every owner change
);
CREATE INDEX sessions_chat ON sessions(chat_id, id);
CREATE INDEX sessions_open_owner ON sessions(operator_id, line_id, status) WHERE closed = 0;
CREATE INDEX sessions_open_line ON sessions(line_id, status) WHERE closed = 0;

CREATE TABLE transfers (
    id           BIGSERIAL PRIMARY KEY,
    session_id   BIGINT NOT NULL,
    chat_id      BIGINT NOT NULL,
    line_id      BIGINT NOT NULL,
    from_type    TEXT NOT NULL,                         -- bot | user | queue | none
    from_id      BIGINT NOT NULL DEFAULT 0,
    to_type      TEXT NOT NULL,                         -- user | queue
    to_id        BIGINT NOT NULL DEFAULT 0,
    mode         TEXT NOT NULL,                         -- bot | operator | routing | intercept
    reason       TEXT NOT NULL DEFAULT '',
    actor_id     BIGINT NOT NULL DEFAULT 0,            -- who asked (0: automatic)
    date_create  DOUBLE PRECISION NOT NULL
);
CREATE INDEX transfers_session ON transfers(session_id, id);
CREATE INDEX transfers_chat ON transfers(chat_id, id);
CREATE INDEX transfers_from ON transfers(from_id, id);
CREATE INDEX transfers_to ON transfers(to_id, id);
CREATE INDEX transfers_date ON transfers(date_create);

-- Everything that must leave the process (bot events, app events) is written here in the same
-- transaction as the change that caused it; a delivery worker sends it.
CREATE TABLE outbox (
    id             BIGSERIAL PRIMARY KEY,
    event          TEXT NOT NULL,                       -- e.g. ONIMBOTMESSAGEADD
    target         TEXT NOT NULL DEFAULT '',            -- handler URL ('' = to be resolved)
    chat_id        BIGINT NOT NULL DEFAULT 0,          -- ordering key with target
    payload        TEXT NOT NULL,                       -- JSON
    created        DOUBLE PRECISION NOT NULL,
    due            DOUBLE PRECISION NOT NULL,
    attempts       BIGINT NOT NULL DEFAULT 0,
    status         TEXT NOT NULL DEFAULT 'pending',     -- pending | delivered | dead
    last_error     TEXT NOT NULL DEFAULT '',
    claimed_until  DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX outbox_pending ON outbox(status, due) WHERE status = 'pending';
CREATE INDEX outbox_order ON outbox(target, chat_id, id);

-- Live-chat widget visitors: a token per visitor and line.
CREATE TABLE visitors (
    token_hash   TEXT PRIMARY KEY,
    line_id      BIGINT NOT NULL,
    visitor      TEXT NOT NULL,
    customer_id  BIGINT NOT NULL,
    chat_id      BIGINT NOT NULL,
    created      DOUBLE PRECISION NOT NULL
);
CREATE UNIQUE INDEX visitors_identity ON visitors(line_id, visitor);
