"""Which flagged entities become alerts: allowlist, realert window and cap (no Spark)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from spark_jobs.alerting.lifecycle import (
    CAPPED,
    RAISED,
    SUPPRESSED,
    Candidate,
    Decision,
    Verdict,
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


# --- analysts' verdicts (botwatch feedback) ---------------------------------------------------


def _verdict(entity, verdict="false_positive", day=17, until=None, alert_id=None, analyst="ann"):
    start = datetime(2015, 5, day, tzinfo=UTC)
    return Verdict(alert_id or f"{entity}-alert-{day:02d}-0123456789", entity, verdict,
                   "partner's checker", analyst, start, start + timedelta(days=1), until)  # fmt: skip


def _at(day, cands, verdicts, days=30, **kwargs):
    start = datetime(2015, 5, day, tzinfo=UTC)
    iso = f"2015-05-{day:02d}T00:00:00Z"
    return decide(cands, allowlist=list(kwargs.get("allowlist", ())),
                  prior=prior_alerts({"k": list(kwargs.get("prior", ()))}), interval_start=start,
                  interval_start_iso=iso, window_start_iso=kwargs.get("window", iso),
                  realert_minutes=1440, max_alerts=10, verdicts=verdicts,
                  false_positive_days=days)  # fmt: skip


def test_a_false_positive_suppresses_the_entity_in_later_intervals_with_its_reason():
    verdicts = [_verdict("a", alert_id="0123456789abcdef")]
    got = _at(20, [_cand("a"), _cand("b")], verdicts)
    assert got["id-a"] == Decision(
        SUPPRESSED, "verdict: false positive (analyst ann, alert 0123456789ab): partner's checker"
    )
    assert got["id-b"].status == RAISED
    # Not the alerted interval itself (a rerun raises the same alert again), nor earlier ones.
    assert _at(17, [_cand("a")], verdicts)["id-a"].status == RAISED
    assert _at(16, [_cand("a")], verdicts)["id-a"].status == RAISED


@pytest.mark.parametrize(
    ("until", "days", "day", "status"),
    [
        (date(2015, 5, 20), 30, 20, SUPPRESSED),  # until is an inclusive data day
        (date(2015, 5, 20), 30, 21, RAISED),
        (None, 3, 20, SUPPRESSED),  # the policy: 3 days of data after the alerted interval
        (None, 3, 21, RAISED),
        (None, 0, 18, RAISED),  # 0: only verdicts with until suppress
        (date(2015, 5, 25), 0, 25, SUPPRESSED),  # until wins over the policy
    ],
)
def test_a_false_positive_lasts_until_its_day_or_the_policy_window(until, days, day, status):
    got = _at(day, [_cand("a")], [_verdict("a", until=until)], days=days)
    assert got["id-a"].status == status


def test_a_true_positive_never_suppresses_and_the_latest_verdict_wins():
    assert _at(20, [_cand("a")], [_verdict("a", "true_positive")])["id-a"].status == RAISED
    later_tp = [_verdict("a", day=17), _verdict("a", "true_positive", day=18)]
    assert _at(20, [_cand("a")], later_tp)["id-a"].status == RAISED
    later_fp = [_verdict("a", "true_positive", day=17), _verdict("a", day=18, analyst="bo")]
    assert "(analyst bo, alert a-alert-18-0" in _at(20, [_cand("a")], later_fp)["id-a"].reason


def test_the_allowlist_comes_before_a_verdict_and_a_verdict_before_realert():
    verdicts = [_verdict("a"), _verdict("b")]
    allow = _entries({"entity": "a", "reason": "partner"})
    prior = [_doc("b", "2015-05-19T12:00:00Z", "old-b")]
    got = _at(20, [_cand("a"), _cand("b")], verdicts, allowlist=allow, prior=prior,
              window="2015-05-19T00:00:00Z")  # fmt: skip
    assert got["id-a"].reason == "allowlist: partner (entity)"
    assert got["id-b"].reason.startswith("verdict: false positive (analyst ann, alert b-alert-17")


def test_alerts_take_a_false_positive_policy_window():
    assert AlertConfig().false_positive_days == 30
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        AlertConfig(false_positive_days=-1)
