"""pydantic errors in the words of a config's author: keys as written, no class, no regex."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel, ValidationError

from spark_jobs.config.messages import PATTERN_WORDS, config_error, describe, not_a_date
from spark_jobs.config.usecase import UseCase
from tests.support.paths import REPO

VALID = {
    "id": "case",
    "description": "d",
    "start_date": "2015-05-17",
    "source": {"path": "logs/*.gz"},
    "features": ["requests", "head_share"],
}


def _problems(**overrides) -> list[tuple[str, str]]:
    doc = {**VALID, **overrides}
    with pytest.raises(ValidationError) as info:
        UseCase.model_validate(doc, context={"home": REPO})
    return [describe(err, UseCase) for err in info.value.errors()]


def _models(model: type[BaseModel], seen: set) -> None:
    """Every model reachable from ``model``'s fields (through lists, unions, Optional)."""
    if model in seen:
        return
    seen.add(model)
    stack = [f.annotation for f in model.model_fields.values()]
    while stack:
        tp = stack.pop()
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            _models(tp, seen)
        stack.extend(typing.get_args(tp))


def test_every_pattern_of_the_schema_has_words():
    models: set = set()
    _models(UseCase, models)
    patterns = {
        meta.pattern
        for model in models
        for field in model.model_fields.values()
        for meta in field.metadata
        if getattr(meta, "pattern", None)
    }
    assert patterns, "the walk found no pattern at all"
    assert patterns <= set(PATTERN_WORDS)


def test_a_sink_error_is_keyed_as_the_yaml_writes_it_without_the_union_tag():
    sinks = [{"type": "file"}, {"type": "webhook", "url": "ftp://example.org"}]
    assert _problems(alert={"sinks": sinks}) == [
        ("alert.sinks.1", "url must start with http:// or https://, got 'ftp://example.org'")
    ]


def test_an_unknown_key_inside_a_sink_gets_the_nearest_key_of_that_sink():
    sinks = [{"type": "email", "to": ["a@example.org"], "subjet_prefix": "[x]"}]
    assert _problems(alert={"sinks": sinks}) == [
        ("alert.sinks.0.subjet_prefix", "unknown key; did you mean 'subject_prefix'?")
    ]


def test_an_unknown_key_far_from_every_known_one_lists_the_known_ones():
    ((key, reason),) = _problems(quality={"zzz": 1})
    assert key == "quality.zzz"
    assert reason == (
        "unknown key; known keys here: suites, max_quarantined_ratio, min_parsed_rows, "
        "allow_truncated_files"
    )


def test_a_scalar_where_a_section_belongs_names_the_sections_keys_not_its_class():
    ((key, reason),) = _problems(model="gbt")
    assert key == "model"
    assert reason.startswith("expected a mapping with keys such as kind, members, k, algorithm")
    assert "ModelConfig" not in reason and "instance" not in reason


def test_wrong_types_say_what_was_expected_and_what_was_given():
    problems = dict(_problems(threshold=[1], tags="demo", catchup="often", storage={"root": 7}))
    assert problems == {
        "threshold": "expected a number, got a list of 1 item(s)",
        "tags": "expected a list ([a, b] or one '- item' per line), got the text 'demo'",
        "catchup": "expected true or false, got the text 'often'",
        "storage.root": "expected text, got the number 7; put it in quotes",
    }


def test_a_list_that_is_too_short_says_how_many_it_needs():
    assert _problems(features=["requests"]) == [("features", "needs at least 2 item(s), got 1")]


def test_several_problems_are_still_one_line_the_first_in_full(tmp_path):
    doc = {**VALID, "threshold": 150, "treshold": 1, "airflow": {"retries": -1}}
    with pytest.raises(ValidationError) as info:
        UseCase.model_validate(doc, context={"home": REPO})
    error = config_error(tmp_path / "c.yaml", info.value, UseCase)
    assert str(error) == (
        f"{tmp_path / 'c.yaml'}: threshold: must be at most 100, got the number 150 "
        "(and 2 more: airflow.retries, treshold)"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2014-13-01", "not a date: 2014-13-01 (month 13; months are 1 to 12)"),
        ("2014-00-10", "not a date: 2014-00-10 (month 0; months are 1 to 12)"),
        ("2015-02-29", "not a date: 2015-02-29 (February 2015 has 28 days)"),
        ("2015-04-31T10:00:00Z", "not a date: 2015-04-31T10:00:00Z (April 2015 has 30 days)"),
        (
            "2016-02-29T25:00:00Z",
            "not a date and time: '2016-02-29T25:00:00Z'; write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
        ),
        ("yesterday", "not a date: 'yesterday'; write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ"),
    ],
)
def test_dates_are_explained_in_calendar_words(value, reason):
    assert not_a_date(value) == reason
    assert _problems(start_date=value) == [("start_date", reason)]


def test_no_reason_carries_python_or_regex_words():
    problems = _problems(
        id="Bad Id",
        entity="client",
        model={"kind": "semi", "k": "six"},
        alert={"sinks": [{"type": "sms"}], "allowlist": [{"cidr": "1.2.3.4", "reason": "x"}]},
        airflow=None,
    )
    assert len(problems) >= 6
    python_words = re.compile(r"instance of|[A-Z][a-z]+(Config|Error)\b|\^\[|\]\{|Input should")
    assert [reason for _, reason in problems if python_words.search(reason)] == []


def test_crawler_settings_name_the_key_and_the_choices():
    problems = dict(
        _problems(
            alert={
                "spoofed_crawlers": "page",
                "allowlist": [{"verified_crawler": "gogle", "reason": "typo"}],
            }
        )
    )
    assert problems["alert.spoofed_crawlers"] == "must be one of alert, explain; got 'page'"
    assert (
        "unknown crawler operator 'gogle'; known: google, bing"
        in problems["alert.allowlist.0.verified_crawler"]
    )
