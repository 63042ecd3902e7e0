"""The ``[limits]`` table: which of the cloud's limits to emulate, and with what numbers.

A preset (``off``, ``cloud``, ``enterprise``) gives the defaults; every number can be set on its own,
in the file or as ``OPENLINES_LIMITS_<KEY>`` (the preset itself is ``OPENLINES_LIMITS``). A limiter is
on when its numbers are known, so ``preset = "off"`` with ``rate_drain`` and ``rate_burst`` set turns
on the request-rate limit alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PRESETS: dict[str, dict[str, float]] = {
    "off": {},
    # spec 1.10: "all other plans" drain 2/s above a burst of 50; 480 s operating time (docs, b24jssdk)
    "cloud": {"rate_drain": 2.0, "rate_burst": 50.0, "operating_limit": 480.0},
    "enterprise": {"rate_drain": 5.0, "rate_burst": 250.0, "operating_limit": 480.0},
}
RATE_KEYS = ("ip", "client")  # per portal and client IP (the cloud), or per webhook/app
RATE_CLOCKS = ("server", "real")  # the bucket drains by the server clock (fake or not), or real time
NUMBERS = (
    "rate_drain",
    "rate_burst",
    "operating_limit",
    "operating_min",
    "operating_bucket",
    "operating_buckets",
)


@dataclass
class LimitsConfig:
    preset: str = "off"
    rate_drain: float | None = None  # requests per second the bucket drains
    rate_burst: float | None = None  # a request is refused while the bucket holds this many
    rate_key: str = "ip"
    rate_clock: str = "server"
    operating_limit: float | None = None  # seconds per method and webhook/app in the window
    operating_min: float = 0.1  # calls shorter than this are not counted
    operating_bucket: float = 60.0  # seconds per bucket
    operating_buckets: int = 10  # buckets in the window

    def value(self, name: str) -> float | None:
        own: float | None = getattr(self, name)
        return own if own is not None else PRESETS.get(self.preset, {}).get(name)

    @property
    def rate_on(self) -> bool:
        return bool(self.value("rate_drain") is not None and self.value("rate_burst"))

    @property
    def operating_on(self) -> bool:
        return bool(self.value("operating_limit"))

    @property
    def enabled(self) -> bool:
        return self.rate_on or self.operating_on


def parse_limits(raw: dict[str, Any], env: dict[str, str], problems: list[str]) -> LimitsConfig:
    limits = LimitsConfig()
    values = dict(raw)
    if "OPENLINES_LIMITS" in env:
        values["preset"] = env["OPENLINES_LIMITS"].strip().lower()
    for choice in ("rate_key", "rate_clock"):
        if f"OPENLINES_LIMITS_{choice.upper()}" in env:
            values[choice] = env[f"OPENLINES_LIMITS_{choice.upper()}"].strip().lower()
    for name in NUMBERS:
        var = f"OPENLINES_LIMITS_{name.upper()}"
        if var in env:
            try:
                values[name] = float(env[var].strip())
            except ValueError:
                problems.append(f"{var}: must be a number, not {env[var]!r}")
    for key, value in values.items():
        if key in ("preset", "rate_key", "rate_clock"):
            allowed = {"preset": tuple(PRESETS), "rate_key": RATE_KEYS, "rate_clock": RATE_CLOCKS}[key]
            if value not in allowed:
                problems.append(f"limits.{key}: must be one of {', '.join(allowed)}")
                continue
            setattr(limits, key, value)
        elif key in NUMBERS:
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                problems.append(f"limits.{key}: must be a number >= 0")
                continue
            setattr(limits, key, int(value) if key == "operating_buckets" else float(value))
        else:
            problems.append(f"limits.{key}: unknown key")
    if limits.operating_buckets < 1 or limits.operating_bucket <= 0:
        problems.append("limits.operating_buckets and operating_bucket: must be more than 0")
    return limits
