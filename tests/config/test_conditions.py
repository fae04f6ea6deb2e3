"""``when:``: the grammar it accepts, the names and kinds it checks, and what an alert shows."""

from __future__ import annotations

import pytest

from spark_jobs.config.conditions import FIELDS, ConditionError, parse


@pytest.mark.parametrize(
    "text",
    [
        "status_404_share >= 0.2 and night_share >= 0.5",
        "not declared_crawler and status_404_share * requests >= 2",
        "0.2 <= night_share < 0.8 or crawler_operator in ['google', 'bing']",
        "spoofed_crawler == true or (sensitive_share > 0 and error_burst_max >= 10)",
        "requests_pct >= 0.99 and user_agent != '-'",
        "-iat_cv < -1 or login_post_share * requests / 2 >= 3",
    ],
)
def test_conditions_in_the_grammar_parse(text):
    assert parse(text).text == text


def test_multi_line_yaml_text_reads_as_one_line():
    assert parse("requests >= 5\n  and head_share > 0.5\n").text == (
        "requests >= 5 and head_share > 0.5"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("night_sahre > 1", "unknown name 'night_sahre'; did you mean 'night_share'?"),
        ("robots_txt", "'robots_txt' is a number, not a condition: compare it"),
        ("requests > 'many'", "\"requests > 'many'\" compares a number with a text"),
        ("user_agent > 'a'", "a text is only compared with == or !="),
        ("declared_crawler and requests", "'requests' is a number, not a condition"),
        ("not requests", "`not` negates a condition"),
        ("user_agent * 2 > 1", "arithmetic is between numbers"),
        ("requests in [1, 'a']", "the list holds number literals, like requests"),
        ("requests in requests_pct", "`in` takes a list"),
        ("requests % 2 == 0", "only + - * / between numbers"),
        ("requests is None", "`Is` is not allowed"),
        ("requests >=", "syntax error in 'requests >='"),
        ("   ", "is empty"),
    ],
)
def test_conditions_outside_the_grammar_say_why(text, message):
    with pytest.raises(ConditionError) as caught:
        parse(text)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('id') == 0",
        "open('/etc/passwd') != ''",
        "[x for x in ()] == []",
        "(lambda: 1)() == 1",
        "requests.real > 1",
        "client[0] == '1'",
        "(x := 1) == 1",
    ],
)
def test_code_is_rejected_never_evaluated(text):
    with pytest.raises(ConditionError, match="not allowed|unknown name"):
        parse(text)


def test_names_are_the_columns_read_in_order_of_first_use():
    condition = parse("night_share >= 0.5 and (status_404_share > 0.2 or night_share > 0.9)")
    assert condition.names == ("night_share", "status_404_share")


def test_explanation_shows_the_condition_and_the_values_that_matched():
    condition = parse("status_404_share >= 0.2 and not declared_crawler")
    shown = condition.explain({"status_404_share": 0.3333333, "declared_crawler": 0.0})
    assert shown == (
        "in scope: status_404_share >= 0.2 and not declared_crawler "
        "(status_404_share=0.3333, declared_crawler=false)"
    )
    assert "status_404_share=null" in condition.explain({})


def test_every_session_field_is_a_column_of_the_features_dataset():
    from spark_jobs.features.behaviour import SESSION_COLUMNS

    assert set(FIELDS) <= set(SESSION_COLUMNS)
