"""The small pure parts of delivery: PHP form encoding, backoff, the [delivery] configuration."""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest
from b24pysdk.credentials._utils.parse_flattened_keys import parse_flattened_keys

from openlines import config as config_mod
from openlines.config import ConfigError
from openlines.delivery import encoding
from openlines.delivery.backoff import RetryPolicy


def test_encoding_matches_php_http_build_query() -> None:
    value = {"a": {"b": "c d"}, "x": [1, 2], "t": True, "f": False, "n": None, "e": [], "q": "&=[]"}
    # PHP: http_build_query(['a'=>['b'=>'c d'],'x'=>[1,2],'t'=>true,'f'=>false,'n'=>null,'e'=>[],'q'=>'&=[]'])
    assert encoding.encode(value) == "a%5Bb%5D=c+d&x%5B0%5D=1&x%5B1%5D=2&t=1&f=0&q=%26%3D%5B%5D"


def test_encoded_events_read_back_as_nested_strings() -> None:
    data = {
        "BOT": {"39": {"BOT_ID": 39, "AUTH": {"domain": "x.test"}}},
        "PARAMS": {"MESSAGE": "Привет, [b]world[/b]", "MENTIONED_LIST": {"5": 5}, "SYSTEM": "N"},
        "FILES": [{"NAME": "a.txt"}, {"NAME": "b.txt"}],
        "SCORE": 1.5,
    }
    flat = dict(parse_qsl(encoding.encode({"event": "ONIMBOTMESSAGEADD", "data": data})))
    nested = parse_flattened_keys(flat)
    assert nested["data"]["BOT"]["39"] == {"BOT_ID": "39", "AUTH": {"domain": "x.test"}}
    assert nested["data"]["PARAMS"]["MESSAGE"] == "Привет, [b]world[/b]"
    assert flat["data[FILES][1][NAME]"] == "b.txt"
    assert flat["data[SCORE]"] == "1.5"


def test_backoff_doubles_to_the_cap_and_jitter_stays_inside() -> None:
    policy = RetryPolicy(retries=7, first_retry=1.0, max_delay=30.0, jitter=0.0)
    rng = random.Random(1)
    assert [policy.delay(n, rng) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert policy.attempts == 8 and not policy.gives_up(7) and policy.gives_up(8)
    jittered = RetryPolicy(retries=7, jitter=0.2)
    for n in range(1, 40):
        base = min(2.0 ** (n - 1), 30.0)
        assert 0.8 * base <= jittered.delay(n, rng) <= min(1.2 * base, 30.0)
    assert RetryPolicy(retries=0).gives_up(1)


def test_delivery_config_defaults_file_and_environment() -> None:
    default = config_mod.from_dict({}, "<t>", {}).delivery
    assert (default.retries, default.first_retry, default.max_delay, default.read_timeout) == (
        7,
        1.0,
        30.0,
        30.0,
    )
    cfg = config_mod.from_dict(
        {"delivery": {"retries": 0, "read_timeout": 5}}, "<t>", {"OPENLINES_DELIVERY_FIRST_RETRY": "0.25"}
    ).delivery
    assert (cfg.retries, cfg.read_timeout, cfg.first_retry) == (0, 5.0, 0.25)
    with pytest.raises(ConfigError) as failed:
        config_mod.from_dict(
            {"delivery": {"retries": -1, "jitter": 2.0, "colour": "red", "enabled": "yes"}}, "<t>", {}
        )
    problems = "\n".join(failed.value.problems)
    for expected in ("delivery.retries", "delivery.jitter", "delivery.colour", "delivery.enabled"):
        assert expected in problems
