"""Which flagged entities become alerts: allowlist, realert window and cap (no Spark)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from spark_jobs.alerting.lifecycle import (
    CAPPED,
    RAISED,
    SUPPRESSED,
    Candidate,
    allowlist_reason,
    decide,
    prior_alerts,
    severity,
)
from spark_jobs.config.alerts import AlertConfig, AllowlistEntry

DAY = datetime(2015, 5, 20, tzinfo=UTC)


def _cand(entity, score=99.0, ua="Mozilla/5.0", alert_id=None):
    return Candidate(alert_id or f"id-{entity}", entity, entity, ua, score)


def _entries(*dicts):
    return [AllowlistEntry(**d) for d in dicts]


@pytest.mark.parametrize(
    "entry, candidate, expected",
    [
        ({"cidr": "10.0.0.0/8", "reason": "office"}, _cand("10.1.2.3"), "cidr 10.0.0.0/8"),
        ({"cidr": "10.0.0.0/8", "reason": "office"}, _cand("11.1.2.3"), None),
        ({"cidr": "2001:db8::/32", "reason": "v6 lab"}, _cand("2001:db8::1"), "cidr 2001:db8::/32"),
        ({"cidr": "2001:db8::/32", "reason": "v6 lab"}, _cand("10.1.2.3"), None),
        ({"cidr": "192.0.2.7", "reason": "one host"}, _cand("192.0.2.7"), "cidr 192.0.2.7"),
        ({"cidr": "10.0.0.0/8", "reason": "office"}, _cand("not-an-ip"), None),
        (
            {"user_agent": "uptimerobot", "reason": "our monitor"},
            _cand("1.2.3.4", ua="Mozilla/5.0 (compatible; UptimeRobot/2.0)"),
            "user_agent /uptimerobot/",
        ),
        ({"user_agent": "uptimerobot", "reason": "our monitor"}, _cand("1.2.3.4", ua=None), None),
        (
            {"cidr": "10.0.0.0/8", "user_agent": "^curl", "reason": "ops scripts"},
            _cand("10.0.0.9", ua="Mozilla/5.0"),
            None,  # both must match
        ),
        ({"entity": "sess-42", "reason": "load test"}, _cand("sess-42"), "entity"),
    ],
)
def test_allowlist_matches(entry, candidate, expected):
    got = allowlist_reason(candidate, _entries(entry), DAY)

    if expected is None:
        assert got is None
    else:
        assert got == f"allowlist: {entry['reason']} ({expected})"


@pytest.mark.parametrize(
    ("operator", "spoofed", "allowed"),
    [("google", 0.0, True), ("google", 1.0, False), ("google", None, False), ("bing", 0.0, False)],
)
def test_a_verified_crawler_entry_never_allows_a_spoofed_or_unjudged_one(
    operator, spoofed, allowed
):
    entries = _entries({"verified_crawler": "google", "reason": "we want Google"})
    candidate = Candidate(
        "id-1", "66.249.73.135", "66.249.73.135", "Googlebot/2.1", 99.0, operator, spoofed
    )
    got = allowlist_reason(candidate, entries, DAY)
    assert got == ("allowlist: we want Google (verified google crawler)" if allowed else None)


def test_allowlist_entry_expires_after_until():
    entries = _entries({"cidr": "10.0.0.0/8", "reason": "pentest", "until": "2015-05-19"})

    assert allowlist_reason(_cand("10.0.0.1"), entries, datetime(2015, 5, 19, tzinfo=UTC))
    assert allowlist_reason(_cand("10.0.0.1"), entries, DAY) is None


@pytest.mark.parametrize(
    "entry, message",
    [
        ({"reason": "nothing to match"}, "needs cidr, user_agent, entity or verified_crawler"),
        (
            {"verified_crawler": "gogle", "reason": "typo"},
            "unknown crawler operator 'gogle'; known: google",
        ),
        ({"cidr": "10.0.0.300/8", "reason": "typo"}, "not an IP address or network"),
        ({"user_agent": "(unclosed", "reason": "bad regex"}, "invalid regular expression"),
        ({"cidr": "10.0.0.0/8"}, "reason"),
    ],
)
def test_bad_allowlist_entries_are_config_errors(entry, message):
    with pytest.raises(ValueError, match=message):
        AllowlistEntry(**entry)


def _doc(entity, interval_start, alert_id, model="m1"):
    return {
        "event": {"id": alert_id},
        "botwatch": {
            "entity": entity,
            "interval": {"start": interval_start},
            "model_version": model,
        },
    }


def _decide(cands, prior_docs=(), allowlist=(), max_alerts=10, window=1440):
    prior = prior_alerts({"k": list(prior_docs)})
    return decide(
        cands,
        allowlist=list(allowlist),
        prior=prior,
        interval_start=DAY,
        interval_start_iso="2015-05-20T00:00:00Z",
        window_start_iso="2015-05-19T00:00:00Z" if window == 1440 else "2015-05-20T00:00:00Z",
        realert_minutes=window,
        max_alerts=max_alerts,
    )


def test_realert_window_suppresses_recent_entities_only():
    prior = [
        _doc("a", "2015-05-19T12:00:00Z", "old-a"),  # 12 h before: inside 24 h
        _doc("b", "2015-05-19T00:00:00Z", "old-b"),  # exactly 24 h before: outside
        _doc("c", "2015-05-20T00:00:00Z", "old-c", model="m0"),  # this interval, other model
        _doc("d", "2015-05-20T00:00:00Z", "id-d"),  # this very alert (a rerun)
    ]

    got = _decide([_cand(e) for e in "abcd"], prior)

    assert got["id-a"].status == SUPPRESSED
    assert got["id-a"].reason == (
        "realert: alerted for interval 2015-05-19T12:00:00Z (alert old-a), within 1440 min"
    )
    assert got["id-b"].status == RAISED
    assert got["id-c"].reason.startswith("realert: already alerted for this interval by model m0")
    assert got["id-d"].status == RAISED


def test_cap_counts_only_raised_alerts_highest_score_first():
    cands = [_cand("a", 99.0), _cand("b", 98.0), _cand("c", 97.0), _cand("z", 99.0)]
    allow = _entries({"entity": "z", "reason": "partner"})

    got = _decide(cands, allowlist=allow, max_alerts=2)

    assert {k: v.status for k, v in got.items()} == {
        "id-z": SUPPRESSED,
        "id-a": RAISED,
        "id-b": RAISED,
        "id-c": CAPPED,
    }


def test_severity_labels_and_config_checks():
    assert [severity(s, 98, 99.5) for s in (95, 98, 99.5)] == ["medium", "high", "critical"]
    with pytest.raises(ValueError, match="critical must be >= high"):
        AlertConfig(severity={"high": 99, "critical": 98})
    with pytest.raises(ValueError, match="sink names must be unique"):
        AlertConfig(sinks=[{"type": "file"}, {"type": "file", "path": "b.jsonl"}])
