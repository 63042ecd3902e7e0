"""Whatever a browser sends to the widget API, the answer is an envelope, never a 500."""

from __future__ import annotations

from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import ServerProcess

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
bodies = st.one_of(
    st.fixed_dictionaries({}, optional={"visitor": json_values, "text": json_values, "name": json_values}),
    json_values,
)
lines = st.sampled_from(["1", "2", "0", "-1", "999999999999999999999", "abc", "1.5"])
tokens = st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9._~+/=-]{1,50}", fullmatch=True))


@settings(max_examples=80, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(line=lines, body=bodies, token=tokens, after=st.one_of(st.none(), st.text(max_size=25)))
def test_no_input_breaks_the_widget(
    bots_server: ServerProcess, line: str, body: Any, token: str | None, after: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    with httpx.Client(base_url=bots_server.url, timeout=30) as client:
        posted = client.post(f"/widget/{line}/messages", json=body, headers=headers)
        read = client.get(
            f"/widget/{line}/messages", params={} if after is None else {"after": after}, headers=headers
        )
    for answer in (posted, read):
        assert answer.status_code < 500, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        data = answer.json()
        assert ("error" in data and "error_description" in data) or answer.status_code == 200
