"""``user.current``, ``user.get`` (filters, sorting, paging by 50) and ``user.search``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import DEMO_HOOK, EMPLOYEES, EXTRA_USERS

GET = DEMO_HOOK + "user.get"


def ids(body: dict[str, Any]) -> list[str]:
    return [u["ID"] for u in body["result"]]


def test_user_current_fields(client: httpx.Client) -> None:
    me = client.get(DEMO_HOOK + "user.current").json()["result"]
    assert (me["ID"], me["NAME"], me["LAST_NAME"], me["ACTIVE"]) == ("1", "Alex", "Admin", True)
    assert me["USER_TYPE"] == "employee" and me["WORK_POSITION"] == "Administrator"


def test_paging_by_50(client: httpx.Client) -> None:
    first = client.get(GET).json()
    assert (len(first["result"]), first["next"], first["total"]) == (50, 50, EMPLOYEES)
    second = client.get(GET, params={"start": first["next"]}).json()
    assert len(second["result"]) == EMPLOYEES - 50
    assert "next" not in second and second["total"] == EMPLOYEES
    assert not set(ids(first)) & set(ids(second))
    beyond = client.get(GET, params={"start": 1000}).json()
    assert beyond["result"] == [] and "next" not in beyond


def test_start_minus_one_skips_the_count(client: httpx.Client) -> None:
    body = client.get(GET, params={"start": -1}).json()
    assert len(body["result"]) == 50
    assert body["total"] == 0 and "next" not in body


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        ({"FILTER[ID]": "3"}, ["3"]),
        ({"FILTER[>=ID]": "159"}, ["159", "160"]),
        ({"FILTER[<ID]": "3"}, ["1", "2"]),
        ({"FILTER[@ID][]": ["2", "4"]}, ["2", "4"]),
        ({"FILTER[%NAME]": "osc"}, ["3"]),
        ({"FILTER[NAME]": "Oscar", "FILTER[!ID]": "3"}, []),
        ({"FILTER[LAST_NAME]": "Operator"}, ["2", "3"]),
        ({"FILTER[USER_TYPE]": "extranet"}, ["5"]),
        ({"FILTER[ACTIVE]": "N"}, ["7"]),
        ({"FILTER[NAME_SEARCH]": "sara sales"}, ["4"]),
        ({"ID": "2"}, ["2"]),  # the older top-level form
    ],
)
def test_filters(client: httpx.Client, flt: dict[str, Any], expected: list[str]) -> None:
    assert ids(client.get(GET, params=flt).json()) == expected


def test_active_filter_leaves_out_dismissed_users(client: httpx.Client) -> None:
    body = client.get(GET, params={"FILTER[ACTIVE]": "true", "start": 50}).json()
    assert body["total"] == EMPLOYEES - 1
    assert "7" not in ids(body)


def test_sort_and_order(client: httpx.Client) -> None:
    body = client.get(GET, params={"sort": "ID", "order": "DESC"}).json()
    assert ids(body)[:2] == [str(100 + EXTRA_USERS), str(99 + EXTRA_USERS)]
    by_name = client.post(GET, json={"SORT": "NAME", "ORDER": "ASC", "FILTER": {"<ID": 6}}).json()
    assert [u["NAME"] for u in by_name["result"]] == ["Alex", "Eve", "Olga", "Oscar", "Sara"]


def test_user_search(client: httpx.Client) -> None:
    search = DEMO_HOOK + "user.search"
    assert ids(client.get(search, params={"FILTER[FIND]": "oscar"}).json()) == ["3"]
    assert ids(client.get(search, params={"FILTER[WORK_POSITION]": "support"}).json()) == ["2", "3"]
    assert ids(client.post(search, json={"FIND": "partner.test"}).json()) == ["5"]
    assert client.get(search, params={"FILTER[FIND]": "nobody"}).json()["result"] == []
