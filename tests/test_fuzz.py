"""Bad input never produces a 500: schemathesis generates requests for every method in /openapi.json
and sends them to a live server of its own (fuzzed calls may move its fake clock).

The run is bounded (a few examples per method) so the suite stays fast; raise FUZZ_EXAMPLES locally
for a longer hunt.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from openlines.methods import catalog, openapi
from tests.conftest import ServerProcess, oauth_tokens, start_server

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = start_server(tmp_path_factory, "fuzz-server", "--demo", "--fake-clock")
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def fuzz_token(fuzz_server: ServerProcess) -> str:
    with fuzz_server.client() as client:
        token: str = oauth_tokens(client)["access_token"]  # the admin, every scope
    return token


# The same document the server serves at /openapi.json (checked below), built without a server so
# the tests can be collected before one runs.
schema = schemathesis.openapi.from_dict(openapi.document(catalog.build(), "http://127.0.0.1"))


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_no_input_gives_a_server_error(
    case: schemathesis.Case, fuzz_server: ServerProcess, fuzz_token: str
) -> None:
    response = case.call(base_url=fuzz_server.url, headers={"Authorization": f"Bearer {fuzz_token}"})
    case.validate_response(response, checks=[not_a_server_error])
    assert response.headers["content-type"] == ["application/json; charset=utf-8"]
    assert "Traceback" not in response.text


def test_the_schema_covers_every_method(fuzz_server: ServerProcess) -> None:
    spec = httpx.get(f"{fuzz_server.url}/openapi.json").json()
    with fuzz_server.client() as client:
        methods = client.get("/rest/1/demo_webhook_code/methods", params={"full": "1"}).json()["result"]
    assert {path.removeprefix("/rest/").lower() for path in spec["paths"]} == set(methods)
    served = {**spec, "servers": []}
    assert served == {**openapi.document(catalog.build(), "x"), "servers": []}
