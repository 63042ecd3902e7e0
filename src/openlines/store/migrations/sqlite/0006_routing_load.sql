-- Routing (issue 6): an operator's MAX_CHAT load is counted from the index alone (owner_type and
-- status included), without reading a session row per counted session.
CREATE INDEX sessions_operator_load ON sessions(operator_id, line_id, owner_type, status) WHERE closed = 0;
