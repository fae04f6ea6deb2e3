"""The documented checks that sort received alerts into bots, scanners, abusers and people."""

from __future__ import annotations

import pytest

from spark_jobs.evaluation.alert_audit import CHECKS, audit, verdict

FIREFOX = "Mozilla/5.0 (Windows NT 6.1; rv:38.0) Gecko/20100101 Firefox/38.0"
PERSON = {"user_agent": FIREFOX, "requests": 60, "page_share": 0.1, "assets_after_page_share": 1.0,
          "no_referrer_share": 0.1, "status_4xx_share": 0.0, "robots_txt": 0.0,
          "declared_crawler": 0.0, "spoofed_crawler": None}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, "plainly_people"),
        ({"declared_crawler": 1.0, "user_agent": "msnbot/2.0b"}, "declared_crawler"),
        ({"declared_crawler": 1.0, "spoofed_crawler": 1.0}, "spoofed_crawler"),
        ({"user_agent": "python-requests/2.31"}, "tool_user_agent"),
        ({"user_agent": None}, "tool_user_agent"),
        ({"requests": 40, "login_post_share": 0.5}, "brute_force"),
        ({"requests": 20, "sensitive_share": 0.5, "status_4xx_share": 0.9}, "sensitive_probing"),
        ({"robots_txt": 1.0}, "robots_txt"),
        (
            {"page_share": 1.0, "assets_after_page_share": 0.0, "no_referrer_share": 1.0},
            "scripted",
        ),  # fmt: skip
        ({"assets_after_page_share": 0.2}, "unclear"),  # a browser that skips assets: unclear
        (
            {"user_agent": "Opera/9.80 (Windows NT 6.1) Presto/2.12", "no_referrer_share": 0.95},
            "unclear",
        ),  # fmt: skip
    ],
)
def test_each_session_gets_the_first_check_it_matches(changes, expected):
    assert verdict({**PERSON, **changes}) == expected


def test_audit_counts_verdicts_and_the_shares_of_bots_and_people():
    sessions = [PERSON, {**PERSON, "robots_txt": 1.0}, {**PERSON, "user_agent": "curl/8"},
                {**PERSON, "assets_after_page_share": 0.0}]  # fmt: skip
    found = audit(sessions)
    assert found["alerts"] == 4
    assert found["by_check"] == {
        "tool_user_agent": 1, "robots_txt": 1, "plainly_people": 1, "unclear": 1,
    }  # fmt: skip
    assert (found["bot_share"], found["people_share"]) == (0.5, 0.25)
    assert audit([])["people_share"] is None


def test_every_check_says_what_it_checks():
    assert all(len(text) > 10 for text, _ in CHECKS.values())
