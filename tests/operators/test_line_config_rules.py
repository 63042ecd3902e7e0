"""The pure rules of openlines.domain.line_config: any JSON-shaped input either parses or raises
ConfigFormatError (never anything else, so the REST layer can always answer INVALID_FORMAT)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from openlines.domain import line_config as lc
from openlines.domain.openlines import Line

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(max_size=12),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [*lc.FIELDS, "QUEUE", "nope", "id", "*", "", "<ID", "!QUEUE_TYPE", "%LINE_NAME"]
)
params_like = st.dictionaries(
    st.sampled_from([*lc.PARAMS_KEYS, "group"]),
    st.one_of(
        json_values, st.lists(field_names, max_size=4), st.dictionaries(field_names, json_values, max_size=3)
    ),
    max_size=5,
)
options_like = st.dictionaries(st.sampled_from([*lc.OPTIONS_KEYS, "X"]), json_values, max_size=3)


@given(st.one_of(params_like, json_values), st.one_of(options_like, json_values))
def test_list_query_parses_or_says_invalid_format(params: Any, options: Any) -> None:
    try:
        query = lc.parse_list_query(params, options)
    except lc.ConfigFormatError as exc:
        assert exc.text
        return
    assert 1 <= query.limit <= lc.MAX_LIMIT and query.offset >= 0
    rows = [lc.line_fields(Line(id=i, name=f"L{i}"), lambda ts: "") for i in (1, 2, 3)]
    kept = lc.sort_rows([r for r in rows if lc.matches(r, query.filter)], query.order)
    assert len(kept) <= 3


@given(st.one_of(st.dictionaries(field_names, json_values, max_size=6), json_values))
def test_params_parse_or_say_invalid_format(params: Any) -> None:
    try:
        change = lc.parse_params(params)
    except lc.ConfigFormatError as exc:
        assert exc.text
        return
    line = Line(id=1, name="Support")
    lc.apply_change(line, change, 10.0, 1)
    assert line.queue_type in lc.QUEUE_TYPES
    shown = lc.line_fields(line, lambda ts: "iso")
    assert all(isinstance(v, str) for v in shown.values())
    if shown["WELCOME_BOT_ENABLE"] != "Y":
        assert shown["WELCOME_BOT_ID"] == "0"


def test_sorting_is_numeric_and_stable() -> None:
    rows = [{"ID": "10", "QUEUE_TIME": "5"}, {"ID": "9", "QUEUE_TIME": "5"}, {"ID": "2", "QUEUE_TIME": "60"}]
    assert [r["ID"] for r in lc.sort_rows(rows, [])] == ["2", "9", "10"]
    assert [r["ID"] for r in lc.sort_rows(rows, [("QUEUE_TIME", True)])] == ["2", "9", "10"]
    assert [r["ID"] for r in lc.sort_rows(rows, [("QUEUE_TIME", False), ("ID", True)])] == ["10", "9", "2"]
