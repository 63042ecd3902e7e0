-- What the delivery worker reads on every pass, each through an index that holds just those rows,
-- so that neither a long backlog nor statistics taken while the queue was empty (a queue table
-- often is) make a pass walk the pending rows.
--
-- The claim looks at each handler's pending rows on their own, in id order, and skips the handlers
-- at their cap (or failing) without reading their backlog. "target <> ''" leaves broadcast rows out
-- and keeps the per-chat head check (which gives target and chat_id) on outbox_pending_order: only
-- a query that states target <> '' can use this index.
CREATE INDEX outbox_pending_target ON outbox(target, id) WHERE status = 'pending' AND target <> '';
-- Broadcast rows waiting to be copied to the bound apps, in id order.
CREATE INDEX outbox_pending_broadcast ON outbox(id) WHERE status = 'pending' AND target = '';
-- The next retry time: (due) alone. In (status, due) PostgreSQL drops "status = 'pending'" from the
-- scan (the index predicate implies it), leaving the leading column open and the scan walking every
-- pending row.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending_due ON outbox(due) WHERE status = 'pending';
-- No planner statistics for status. Taken while the queue was empty (a queue table often is, and
-- delivered history makes "pending" a sliver), they make PostgreSQL think every pending index is
-- empty; it then chooses among them at random, and a claim that should read a hundred pages read
-- over a million (the contract test measures this). Without them it assumes a small share, the same
-- every time. Restating the type drops the figures an earlier ANALYZE left (a table owner may).
ALTER TABLE outbox ALTER COLUMN status SET STATISTICS 0, ALTER COLUMN status TYPE TEXT;
