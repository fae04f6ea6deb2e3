"""Which flagged entities become alerts: the allowlist, analysts' verdicts, the realert window
and the cap.

Runs on the driver over the interval's candidates (entities at or above the threshold, one row
each), because allowlists hold IPv6 networks and regular expressions that Spark SQL matches
badly. Every decision carries its reason, so suppression is recorded, not silent.

The realert state is the outbox itself: an entity is suppressed while an earlier alert for it
(from an interval starting within ``realert_minutes`` before this one, or from this very
interval under another model version) is in the lake. Only earlier data intervals count, never
the wall clock, so a backfill decides exactly as the live run did.

An analyst's false-positive verdict on an alert (``botwatch feedback``, ``alerting.feedback``)
quiets that entity for the data intervals starting after the alerted one, until the verdict's
``until`` day or for ``alert.false_positive_days`` of data; the entity's latest verdict wins,
so a later true positive ends it. A true positive never suppresses anything.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from spark_jobs.config.alerts import AllowlistEntry

RAISED, SUPPRESSED, CAPPED = "raised", "suppressed", "capped"
FALSE_POSITIVE, TRUE_POSITIVE = "false_positive", "true_positive"
VERDICTS = (FALSE_POSITIVE, TRUE_POSITIVE)
#: How a suppression reason by an analyst's verdict starts.
VERDICT_REASON = "verdict: "


@dataclass(frozen=True)
class Candidate:
    alert_id: str
    entity: str
    client: str | None
    user_agent: str | None
    score: float
    #: ``features.crawler_check``: the operator its user agent claims, and 1.0 when spoofed,
    #: 0.0 when verified, None when there is no claim or it cannot be judged.
    crawler_operator: str | None = None
    spoofed_crawler: float | None = None


@dataclass(frozen=True)
class Verdict:
    """An analyst's verdict on one alert: what lifecycle and training need of a feedback file."""

    alert_id: str
    entity: str
    verdict: str  # false_positive | true_positive
    reason: str
    analyst: str
    #: The alerted data interval (UTC).
    interval_start: datetime
    interval_end: datetime
    #: Last data day a false positive suppresses; None: ``alert.false_positive_days``.
    until: date | None = None
    session: str | None = None

    def suppresses(self, interval_start: datetime, false_positive_days: float) -> bool:
        """True when this false positive quiets its entity in the interval starting then."""
        if self.verdict != FALSE_POSITIVE or interval_start <= self.interval_start:
            return False
        if self.until is not None:
            return interval_start.date() <= self.until
        return interval_start < self.interval_end + timedelta(days=false_positive_days)


@dataclass(frozen=True)
class Decision:
    status: str  # raised | suppressed | capped
    reason: str | None = None


@lru_cache(maxsize=4096)
def _address(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


@lru_cache(maxsize=256)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr.strip(), strict=False)


@lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


def allowlist_reason(
    candidate: Candidate, entries: Sequence[AllowlistEntry], interval_start: datetime
) -> str | None:
    """``allowlist: <reason> (<what matched>)`` for the first entry that fits, else None."""
    day = interval_start.date()
    for entry in entries:
        if entry.until is not None and day > entry.until:
            continue
        matched = []
        if entry.cidr is not None:
            address = _address(candidate.client)
            network = _network(entry.cidr)
            if address is None or address.version != network.version or address not in network:
                continue
            matched.append(f"cidr {entry.cidr}")
        if entry.user_agent is not None:
            if not candidate.user_agent or not _pattern(entry.user_agent).search(
                candidate.user_agent
            ):
                continue
            matched.append(f"user_agent /{entry.user_agent}/")
        if entry.entity is not None:
            if candidate.entity != entry.entity:
                continue
            matched.append("entity")
        if entry.verified_crawler is not None:
            if (
                candidate.crawler_operator != entry.verified_crawler
                or candidate.spoofed_crawler != 0.0
            ):
                continue
            matched.append(f"verified {entry.verified_crawler} crawler")
        return f"allowlist: {entry.reason} ({', '.join(matched)})"
    return None


def verdict_reason(
    candidate: Candidate,
    verdicts: Sequence[Verdict],
    interval_start: datetime,
    false_positive_days: float,
) -> str | None:
    """``verdict: false positive (analyst a, alert <id12>): <reason>`` when the entity's latest
    verdict on an earlier interval is a false positive that still applies, else None."""
    earlier = [
        v for v in verdicts if v.entity == candidate.entity and v.interval_start < interval_start
    ]
    if not earlier:
        return None
    latest = max(earlier, key=lambda v: (v.interval_start, v.verdict == TRUE_POSITIVE))
    if not latest.suppresses(interval_start, false_positive_days):
        return None
    return (
        f"{VERDICT_REASON}false positive (analyst {latest.analyst}, "
        f"alert {latest.alert_id[:12]}): {latest.reason}"
    )


def prior_alerts(docs_by_key: dict[str, list[dict]]) -> dict[str, list[dict]]:
    """Earlier alert documents by entity, newest interval first."""
    by_entity: dict[str, list[dict]] = {}
    for key in sorted(docs_by_key, reverse=True):
        for doc in docs_by_key[key]:
            by_entity.setdefault(doc["botwatch"]["entity"], []).append(doc)
    return by_entity


def realert_reason(
    candidate: Candidate,
    prior: dict[str, list[dict]],
    interval_start: str,
    window_start: str,
    realert_minutes: float,
) -> str | None:
    """Why an earlier alert for this entity blocks this one, or None.

    ``interval_start``/``window_start`` are ISO strings (``...Z``), compared as strings: one
    spelling per instant. The same alert id is not a repeat but this alert again (a rerun).
    """
    for doc in prior.get(candidate.entity, []):
        other = doc["botwatch"]["interval"]["start"]
        if doc["event"]["id"] == candidate.alert_id:
            continue
        if other == interval_start:
            return (
                f"realert: already alerted for this interval by model "
                f"{doc['botwatch'].get('model_version')} (alert {doc['event']['id'][:12]})"
            )
        if window_start < other < interval_start:
            return (
                f"realert: alerted for interval {other} (alert {doc['event']['id'][:12]}), "
                f"within {realert_minutes:g} min"
            )
    return None


def realert_window_start(interval_start: datetime, realert_minutes: float) -> datetime:
    return interval_start - timedelta(minutes=realert_minutes)


def decide(
    candidates: Iterable[Candidate],
    *,
    allowlist: Sequence[AllowlistEntry],
    prior: dict[str, list[dict]],
    interval_start: datetime,
    interval_start_iso: str,
    window_start_iso: str,
    realert_minutes: float,
    max_alerts: int,
    verdicts: Sequence[Verdict] = (),
    false_positive_days: float = 30,
) -> dict[str, Decision]:
    """A decision per candidate alert id: highest score first (entity breaks ties), allowlist,
    then analysts' verdicts, then realert; the cap counts only alerts actually raised."""
    ordered = sorted(candidates, key=lambda c: (-c.score, c.entity))
    decisions: dict[str, Decision] = {}
    raised = 0
    for candidate in ordered:
        reason = (
            allowlist_reason(candidate, allowlist, interval_start)
            or verdict_reason(candidate, verdicts, interval_start, false_positive_days)
            or realert_reason(
                candidate, prior, interval_start_iso, window_start_iso, realert_minutes
            )
        )
        if reason:
            decisions[candidate.alert_id] = Decision(SUPPRESSED, reason)
        elif raised < max_alerts:
            decisions[candidate.alert_id] = Decision(RAISED)
            raised += 1
        else:
            decisions[candidate.alert_id] = Decision(CAPPED, f"over max_alerts={max_alerts}")
    return decisions


def severity(score: float, high: float, critical: float) -> str:
    if score >= critical:
        return "critical"
    return "high" if score >= high else "medium"


#: ECS ``event.severity`` is a number; these follow Elastic Security's severity ladder.
SEVERITY_NUMBER = {"medium": 2, "high": 3, "critical": 4}
