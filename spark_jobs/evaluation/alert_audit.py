"""Who received alerts are about: bots, scanners and abusers by a documented check, or people.

The measure an analyst cares about is not PR-AUC but "of what I was paged for, how much was a
person". No log says who is a person, so each alert's session is put through checks anyone can
re-run on the same rows, first match wins (``CHECKS``); a session that passes none of the bot
checks and looks like a browser used by a person on every count is ``plainly_people``, the rest
``unclear``. The checks read the session's own features (the scores partition keeps them all)
and its user agent; none of them is a feature the models see as a label, but the scoped use
cases' ``when:`` conditions use some of the same features, so for those a match partly restates
the scope: read their figures as "scope held", and the ``plainly_people`` share as the measure.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

#: User agents of HTTP libraries and command-line tools: no person browses with these.
TOOL_AGENT = re.compile(
    r"curl|wget|python|go-http-client|java/|libwww|perl|okhttp|apache-httpclient|scrapy|"
    r"httpclient|aiohttp|node-fetch|axios|headless|phantomjs|zgrab|masscan|nmap|nikto|sqlmap|"
    r"^-?$",
    re.IGNORECASE,
)
#: What every desktop and mobile browser sends (and what most bots that pose as one copy).
BROWSER_AGENT = re.compile(r"^Mozilla/\d|^Opera/\d", re.IGNORECASE)


def _num(session: dict[str, Any], name: str) -> float:
    value = session.get(name)
    return float(value) if isinstance(value, int | float) else 0.0


def _count(session: dict[str, Any], share: str) -> float:
    """A share times the session's requests: how many requests had the property."""
    return _num(session, share) * _num(session, "requests")


def _brute_force(s: dict[str, Any]) -> bool:
    return _count(s, "login_post_share") >= 5 or _count(s, "auth_failure_share") >= 10


def _probing(s: dict[str, Any]) -> bool:
    sensitive = _count(s, "sensitive_share") >= 3 and _num(s, "status_4xx_share") >= 0.3
    return sensitive or _count(s, "unknown_resource_404_share") >= 10


def _page_views(s: dict[str, Any]) -> float:
    return _count(s, "page_share")


def _scripted(s: dict[str, Any]) -> bool:
    """Many pages, not one asset after any of them, and no referrers or a machine's rhythm."""
    blind = _page_views(s) >= 10 and _num(s, "assets_after_page_share") == 0
    return blind and (_num(s, "no_referrer_share") >= 0.9 or _num(s, "iat_cv") < 0.5)


def _people(s: dict[str, Any]) -> bool:
    """A browser user agent, the assets after its pages, referrers, few errors."""
    return (
        bool(BROWSER_AGENT.search(s.get("user_agent") or ""))
        and _num(s, "assets_after_page_share") >= 0.5
        and _num(s, "no_referrer_share") < 0.9
        and _num(s, "status_4xx_share") < 0.5
        and _num(s, "robots_txt") == 0
    )


#: name -> (what it checks, the check); first match wins. ``plainly_people`` is checked last.
CHECKS: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "spoofed_crawler": (
        "claims a verifiable crawler its operator's ranges or domains refute",
        lambda s: s.get("spoofed_crawler") in (True, 1, 1.0),
    ),
    "declared_crawler": (
        "its user agent says it is a crawler (crawler-user-agents list)",
        lambda s: s.get("declared_crawler") in (True, 1, 1.0),
    ),
    "tool_user_agent": (
        "an HTTP library or scanner user agent (curl, python, Go, Java, zgrab ...) or none",
        lambda s: bool(TOOL_AGENT.search(s.get("user_agent") or "")),
    ),
    "brute_force": ("at least 5 login POSTs or 10 refused (401/403) requests", _brute_force),
    "sensitive_probing": (
        "3+ sensitive paths with >= 30 % 4xx, or 10+ 404s on paths nobody else gets",
        _probing,
    ),
    "robots_txt": ("fetched /robots.txt", lambda s: _num(s, "robots_txt") > 0),
    "scripted": (
        "10+ pages without an asset after any, and no referrers or a regular pace",
        _scripted,
    ),
    "plainly_people": (
        "a browser user agent that loads the assets after its pages, with referrers, "
        "few errors, no robots.txt",
        _people,
    ),
}
BOT_CHECKS = tuple(name for name in CHECKS if name != "plainly_people")


def verdict(session: dict[str, Any]) -> str:
    """The first check the session matches, else ``unclear``."""
    for name, (_, check) in CHECKS.items():
        if check(session):
            return name
    return "unclear"


def audit(sessions: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Counts per verdict and the shares a report states (of the alerts raised)."""
    counts = Counter(verdict(s) for s in sessions)
    total = sum(counts.values())
    bots = sum(counts[name] for name in BOT_CHECKS)
    return {
        "alerts": total,
        "by_check": {name: counts[name] for name in (*CHECKS, "unclear") if counts[name]},
        "bot_share": bots / total if total else None,
        "people_share": counts["plainly_people"] / total if total else None,
    }
