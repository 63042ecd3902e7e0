"""``openlines bench``: throughput and latency of the server, measured against the ceiling of the same run.

Every figure is reported next to a bare endpoint measured in the same run (W0 on this server's own
stack, W0s on a bare Starlette app), because absolute figures on shared machines drift between runs.
See ``docs/benchmarks.md``.
"""
