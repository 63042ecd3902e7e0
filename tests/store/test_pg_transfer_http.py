"""The transfer error table, the transfer effects and many simultaneous transfers of one chat, over
HTTP against a server on PostgreSQL: the same tests as tests/test_transfer_http.py, with the
server (and the rows they inspect) on a fresh PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.store.pg_server import PgReader, PgServerProcess, pg_server
from tests.test_transfer_http import (  # the tests re-run here, on this module's fixtures
    CLIENT,
    CONFIG,
    World,
    chat,
    register_bot,
    test_bot_session_finish,
    test_bot_session_message_send,
    test_bot_session_operator,
    test_closed_session_answers_operator_wrong,
    test_destination_precedence,
    test_leave,
    test_odd_transfer_input_answers_an_envelope,
    test_parameter_errors,
    test_refused_targets_answer_operator_wrong,
    test_session_get,
    test_simultaneous_transfers_of_one_chat,
    test_transfer_list_filters_and_pages,
    test_transfer_to_a_user,
    test_transfer_to_queues,
    test_transfers_inside_batch,
)

__all__ = [
    "chat",
    "test_bot_session_finish",
    "test_bot_session_message_send",
    "test_bot_session_operator",
    "test_closed_session_answers_operator_wrong",
    "test_destination_precedence",
    "test_leave",
    "test_odd_transfer_input_answers_an_envelope",
    "test_parameter_errors",
    "test_refused_targets_answer_operator_wrong",
    "test_session_get",
    "test_simultaneous_transfers_of_one_chat",
    "test_transfer_list_filters_and_pages",
    "test_transfer_to_a_user",
    "test_transfer_to_queues",
    "test_transfers_inside_batch",
]


class PgWorld(World):
    def db(self) -> Any:
        return PgReader(self.srv.db)


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServerProcess]:
    folder = tmp_path_factory.mktemp("pg-transfer-config")
    config = folder / "openlines.toml"
    config.write_text(CONFIG)
    with pg_server(
        tmp_path_factory, "pg-transfer-server", "--demo", "--fake-clock", "--config", str(config)
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def world(srv: PgServerProcess) -> Iterator[World]:
    with srv.client() as http:
        api = PgWorld(srv, http, 0, 0)
        api.bot = register_bot(api, "greeter", CLIENT)
        api.other_bot = register_bot(api, "stranger", "other-app")
        settings = {"WELCOME_BOT_ENABLE": "Y", "WELCOME_BOT_ID": api.bot, "WELCOME_BOT_JOIN": "always"}
        assert api.ok("imopenlines.config.update", {"CONFIG_ID": 1, "PARAMS": settings}) is True
        yield api
