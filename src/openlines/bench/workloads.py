"""The workloads: what each sends, to which server, on which seeded database, and what it needs."""

from __future__ import annotations

from dataclasses import dataclass, field

from openlines.bench.plan import FORM, JSON, TRANSFER, Plan
from openlines.bench.seed import Seeded

WEBHOOK = "/rest/1/demo_webhook_code/"
OPERATORS = [2, 3]  # demo operators Olga and Oscar
BATCH_SIZE = 50


@dataclass(frozen=True)
class Workload:
    name: str
    title: str
    server: str = "openlines"  # "openlines" or "bare" (the W0s Starlette app)
    methods: tuple[str, ...] = ()  # REST methods it needs
    widget: bool = False  # needs POST /widget/{LINE_ID}/messages
    seed: str = ""  # "" no sessions, "pool" the transfer pool, "scale" the pool among 1,000,000
    rate: float = 0.0  # > 0: open loop at this many requests per second
    notes: tuple[str, ...] = field(default_factory=tuple)
    config: str = ""  # routing lane: TOML added to the demo portal's configuration for this workload
    events: bool = False  # the generator is also the bot's handler and waits for each message's event
    dead_backlog: int = 0  # events queued beforehand for a second handler that never answers (W4d)


def routing_config(operators: int = 50, max_chat: int = 250) -> str:
    """Routing on, and line 1's queue made of ``operators`` new employees with a MAX_CHAT each."""
    ids = list(range(1001, 1001 + operators))
    users = "".join(f'[[users]]\nid = {uid}\nname = "Op{uid}"\n\n' for uid in ids)
    line = (
        f'[[lines]]\nid = 1\nname = "Support"\nqueue = {ids}\nqueue_type = "evenly"\nMAX_CHAT = {max_chat}\n'
    )
    return "[server]\nrouting = true\n\n" + users + line


W0 = Workload("W0", "bare no-op endpoint /_noop on the openlines server (this run's ceiling)")
W0S = Workload("W0s", "bare Starlette + uvicorn no-op app (the stack anchor)", server="bare")
W1 = Workload("W1", "server.time through the webhook (form POST, like CRest)", methods=("server.time",))
W2 = Workload(
    "W2",
    "imopenlines.bot.session.transfer to a user, alternating 2 operators, 10,000-session pool",
    methods=(TRANSFER, "imbot.register", "imopenlines.config.update"),
    widget=True,
    seed="pool",
)
W4A = Workload(
    "W4a",
    "customer message in through the widget API, open loop at 500 msg/s",
    methods=("imbot.register", "imopenlines.config.update"),
    widget=True,
    seed="pool",
    rate=500.0,
)
W4 = Workload(
    "W4",
    "customer message in → ONIMBOTMESSAGEADD at a local handler, end to end, open loop at 500 msg/s",
    methods=("imbot.register", "imopenlines.config.update", "imbot.update"),
    widget=True,
    seed="pool",
    rate=500.0,
    events=True,
)
W4D = Workload(
    "W4d",
    "W4 beside a dead handler: another handler that never answers holds its 8 delivery slots, with "
    "20,000 of its events queued",
    methods=W4.methods,
    widget=True,
    seed="pool",
    rate=500.0,
    events=True,
    dead_backlog=20_000,
)
W5 = Workload(
    "W5",
    f"batch of {BATCH_SIZE} transfers per request (same pool as W2)",
    methods=(TRANSFER, "batch", "imbot.register", "imopenlines.config.update"),
    widget=True,
    seed="pool",
)
SCALE = Workload(
    "W2-1M",
    "W2 with 1,000,000 stored sessions (the scale check against W2 at 10,000)",
    methods=(TRANSFER, "imbot.register", "imopenlines.config.update"),
    widget=True,
    seed="scale",
)

W3 = Workload(  # routing lane (issue 6); see docs/routing.md
    "W3",
    "imopenlines.bot.session.transfer to queue1, routed among 50 operators under MAX_CHAT (same pool as W2)",
    methods=(TRANSFER, "imbot.register", "imopenlines.config.update", "openlines.routing.explain"),
    widget=True,
    seed="pool",
    config=routing_config(),
)

ALL = [W0, W0S, W1, W2, W3, W4A, W4, W4D, W5, SCALE]
BY_NAME = {w.name.lower(): w for w in ALL}
QUICK = ["W0", "W0s", "W1", "W2", "W4a", "W4", "W5"]


def plan_for(workload: Workload, seeded: Seeded | None, warmup: bool = False) -> Plan:
    """The request plan. Warm-up sends the same kind of request over a separate chat pool, so the
    measured run starts on sessions in a known state (each transfer moves a chat to the other operator)."""
    if workload.name in ("W0", "W0s"):
        return Plan(path="/_noop", body="start=0")
    if workload.name == "W1":
        return Plan(path=WEBHOOK + "server.time.json", body="start=0")
    if seeded is None:
        raise ValueError(f"{workload.name} needs a seeded database")
    chats = seeded.warm_chats if warmup else seeded.chats
    if workload.name in ("W2", "W2-1M"):
        return Plan(
            path=WEBHOOK + TRANSFER + ".json",
            kind="transfer",
            content_type=FORM,
            chats=chats,
            users=OPERATORS,
            client_id=seeded.client_id,
            expect='"result":true',
        )
    if workload.name == "W3":  # routing lane: every transfer hands the chat to the queue again
        return Plan(
            path=WEBHOOK + TRANSFER + ".json",
            kind="transfer",
            content_type=FORM,
            chats=chats,
            users=[1],
            client_id=seeded.client_id,
            expect='"result":true',
            target="QUEUE_ID",
        )
    if workload.name == "W5":
        return Plan(
            path=WEBHOOK + "batch.json",
            kind="batch",
            content_type=FORM,
            chats=chats,
            users=OPERATORS,
            client_id=seeded.client_id,
            per_request=BATCH_SIZE,
            expect='"result_error":[]',
        )
    if workload.name == "W4a" or workload.events:
        visitors = seeded.warm_visitors if warmup else seeded.visitors
        return Plan(
            path=f"/widget/{seeded.line_id}/messages",
            kind="widget",
            content_type=JSON,
            visitors=visitors,
            expect='"message_id"',
        )
    raise ValueError(f"unknown workload {workload.name}")
