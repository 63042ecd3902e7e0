-- The delivery claim looks at each handler's pending rows on their own, in id order, and skips the
-- handlers that are at their cap (or failing) without walking their backlog: a dead handler with
-- thousands of queued events used to cost every claim pass a walk over all of them.
-- "target <> ''" leaves broadcast rows out, and keeps the per-chat head check (which gives target
-- and chat_id) on outbox_pending_order: only a query that states target <> '' can use this index.
CREATE INDEX outbox_pending_target ON outbox(target, id) WHERE status = 'pending' AND target <> '';
