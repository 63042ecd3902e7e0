"""PHP semantics: ``parse_str``, ``(int)``, truthiness and loose ``== 'Y'``, table-driven and by property."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openlines.protocol import errors, php
from openlines.protocol.errors import RestError
from openlines.protocol.request import parse_params, parse_rest_path

PARSE_STR = [
    ("a=1&b=2", {"a": "1", "b": "2"}),
    ("a[b][c]=1", {"a": {"b": {"c": "1"}}}),
    ("a[]=x&a[]=y", {"a": ["x", "y"]}),
    ("a[5]=x&a[]=y", {"a": {"5": "x", "6": "y"}}),
    ("a[1]=x&a[0]=y", {"a": {"1": "x", "0": "y"}}),  # keys out of order stay a map
    ("FIELDS%5BA%5D%5B0%5D=1", {"FIELDS": {"A": ["1"]}}),
    ("x=a+b&y=a%20b", {"x": "a b", "y": "a b"}),
    ("flag&=skip&&z=", {"flag": "", "z": ""}),
    ("a.b=1&c d=2", {"a_b": "1", "c_d": "2"}),
    ("[x]=1&a[b=2", {"a_b": "2"}),
    ("a=1&a=2", {"a": "2"}),
    ("a=1&a[x]=2", {"a": {"x": "2"}}),
    ("a[x]=1&a=2", {"a": "2"}),
    ("E[]=", {"E": [""]}),
    ("u=%C3%A9%E2%82%AC", {"u": "é€"}),
    ("", {}),
    ("0=a&1=b", {"0": "a", "1": "b"}),  # the top level is a map of names, never a list
]


@pytest.mark.parametrize(("query", "expected"), PARSE_STR)
def test_parse_str(query: str, expected: dict[str, Any]) -> None:
    assert php.parse_str(query) == expected


def test_parse_str_drops_variables_nested_deeper_than_php_allows() -> None:
    assert php.parse_str("a" + "[x]" * 64 + "=1&b=2")["b"] == "2"
    assert "a" in php.parse_str("a" + "[x]" * 64 + "=1")
    assert php.parse_str("a" + "[x]" * 65 + "=1&b=2") == {"b": "2"}
    assert php.parse_str("a" + "[x]" * 50000 + "=1") == {}


PHP_INT = [
    ("12abc", 12),
    ("abc", 0),
    ("", 0),
    (None, 0),
    (True, 1),
    (False, 0),
    (" 42", 42),
    ("-7", -7),
    ("+3", 3),
    ("1e3", 1000),
    ("3.99", 3),
    (3.99, 3),
    (-3.99, -3),
    ("chat15", 0),
    ("0x1A", 0),
    ("9" * 30, 2**63 - 1),
    (float("nan"), 0),
    ([], 0),
    ([1], 1),
    ({"a": 1}, 1),
]


@pytest.mark.parametrize(("value", "expected"), PHP_INT, ids=repr)
def test_php_int(value: Any, expected: int) -> None:
    assert php.php_int(value) == expected


TRUTHY = [(True, True), (1, True), ("1", True), ("true", True), ("false", True), ("Y", True), ("N", True)]
FALSY = [(False, False), (0, False), ("0", False), ("", False), (None, False), ([], False), (0.0, False)]


@pytest.mark.parametrize(("value", "expected"), TRUTHY + FALSY, ids=repr)
def test_php_truthy(value: Any, expected: bool) -> None:
    assert php.php_truthy(value) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Y", True),
        (True, True),
        ("y", False),
        ("True", False),
        ("true", False),
        ("1", False),
        (1, False),
        ("N", False),
    ],
    ids=repr,
)
def test_php_equals_y(value: Any, expected: bool) -> None:
    assert php.php_equals_y(value) is expected


@pytest.mark.parametrize(
    ("path", "method", "user", "code"),
    [
        ("/rest/user.get", "user.get", None, None),
        ("/rest/user.get.json", "user.get", None, None),
        ("/rest/user.get/", "user.get", None, None),
        ("/rest//user.get", "user.get", None, None),
        ("/rest/1/abc/user.get", "user.get", "1", "abc"),
        ("/rest/1/abc//user.get.JSON/", "user.get", "1", "abc"),
        ("/rest/1/abc", "", None, None),
        ("/rest/a/b/c/d", "", None, None),
    ],
)
def test_parse_rest_path(path: str, method: str, user: str | None, code: str | None) -> None:
    parsed = parse_rest_path(path)
    assert parsed is not None
    assert (parsed.method, parsed.hook_user, parsed.hook_code) == (method, user, code)


def test_parse_rest_path_xml_and_non_rest() -> None:
    assert parse_rest_path("/oauth/token/") is None
    with pytest.raises(RestError) as caught:
        parse_rest_path("/rest/user.get.xml")
    assert caught.value.code == errors.wrong_transport().code


# --- properties: nothing a client sends makes the parser fail ------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab[]=&%+.0 1\u00e9"), max_size=60))
def test_parse_str_never_fails(query: str) -> None:
    result = php.parse_str(query)
    assert isinstance(result, dict)
    assert all(isinstance(k, str) and k for k in result)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=30)))
def test_php_int_is_always_an_int64(value: Any) -> None:
    result = php.php_int(value)
    assert isinstance(result, int) and -(2**63) <= result <= 2**63 - 1


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=200),
    query=st.text(max_size=40).map(lambda s: s.encode("utf-8", "replace")),
    content_type=st.sampled_from(
        [
            b"application/json",
            b"application/x-www-form-urlencoded",
            b"multipart/form-data; boundary=x",
            b"",
            b"text/plain",
        ]
    ),
)
def test_parse_params_never_fails(body: bytes, query: bytes, content_type: bytes) -> None:
    scope = {"type": "http", "query_string": query, "headers": [(b"content-type", content_type)]}
    params = asyncio.run(parse_params(scope, body))
    assert isinstance(params, dict)
