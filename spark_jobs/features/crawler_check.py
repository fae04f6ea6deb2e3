"""Is a "Googlebot" Google? Crawler claims checked against what their operators publish.

A user agent is only a claim: anyone can send ``Googlebot/2.1``, and scrapers do so to pass
allowlists (the dev logs have a Colombian ISP's clients fetching ``/apache-log/access.log`` as
"Googlebot"). Operators publish how to verify theirs: address ranges (Google, Apple, OpenAI,
Bing, DuckDuckGo) or the reverse-DNS domain of the client (Google, Bing, Apple, Yandex, Baidu).
``data/verified_crawlers.json`` lists them, with the ranges files shipped beside it
(``data/crawler_ranges/``; ``crawler_refresh`` updates them). Nothing is looked up at run time.

For a session's client and user agent the verdict is:

- no operator's ``user_agent`` pattern matches: no claim (``crawler_operator`` null);
- the client is a logged host name (Apache ``HostnameLookups``): genuine when it is one of the
  operator's domains or under one, spoofed otherwise; unjudged when the operator has none;
- the client is an address: genuine inside the operator's shipped ranges, spoofed outside;
  unjudged when no ranges are shipped for that operator.

A host name is trusted as logged: only ``HostnameLookups Double`` confirms it forward, so a
spoofer that owns its reverse DNS can pass the domain check. Ranges are today's: an old log's
genuine crawler on an address the operator has since given up is called spoofed (the reason
names the ranges file and its date, so a person can tell).
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import json
import re
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

#: The shipped data as files of this checkout or install (what ``crawler_refresh`` rewrites).
DATA = Path(__file__).with_name("data")
OPERATORS_FILE = DATA / "verified_crawlers.json"
RANGES_DIR = DATA / "crawler_ranges"


def _package_data() -> Traversable:
    """The same data as the importer sees it: on executors the package runs from the zip
    ``stage.shipping`` adds, where ``__file__`` paths cannot be opened."""
    return resources.files(__package__).joinpath("data")


#: The columns ``with_crawler_check`` adds to sessions (after ``crawler_name``).
CHECK_COLUMNS = ("crawler_operator", "spoofed_crawler", "crawler_check")


@dataclass(frozen=True)
class Verdict:
    """``spoofed``: True, False, or None when the claim cannot be judged here."""

    operator: str | None
    spoofed: bool | None
    reason: str | None


NO_CLAIM = Verdict(None, None, None)


class AddressRanges:
    """Sorted, merged address intervals of one operator, looked up by bisection."""

    def __init__(self, networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network]) -> None:
        self.count = len(networks)
        self._starts: dict[int, list[int]] = {4: [], 6: []}
        self._ends: dict[int, list[int]] = {4: [], 6: []}
        for net in sorted(networks, key=lambda n: (n.version, int(n.network_address))):
            starts, ends = self._starts[net.version], self._ends[net.version]
            first, last = int(net.network_address), int(net.broadcast_address)
            if ends and first <= ends[-1] + 1:
                ends[-1] = max(ends[-1], last)
            else:
                starts.append(first)
                ends.append(last)

    def __contains__(self, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        starts, ends = self._starts[address.version], self._ends[address.version]
        at = bisect.bisect_right(starts, int(address)) - 1
        return at >= 0 and int(address) <= ends[at]


def read_ranges(path: Path | Traversable) -> tuple[AddressRanges, str]:
    """A published ranges file and its creation time (see ``parse_ranges``)."""
    return parse_ranges(path.read_text(), str(path))


def parse_ranges(text: str, source: str) -> tuple[AddressRanges, str]:
    """A published ranges document (``{"creationTime", "prefixes": [{"ipv4Prefix": ...}]}``,
    the layout Google, Bing, Apple, OpenAI and DuckDuckGo share) and its creation time."""
    doc = json.loads(text)
    nets = []
    for prefix in doc.get("prefixes", []):
        for key in ("ipv4Prefix", "ipv6Prefix"):
            if prefix.get(key):
                nets.append(ipaddress.ip_network(prefix[key], strict=False))
    if not nets:
        raise ValueError(f"{source}: no ipv4Prefix or ipv6Prefix entries")
    return AddressRanges(nets), str(doc.get("creationTime", "unknown date"))[:10]


@dataclass(frozen=True)
class Operator:
    operator: str
    name: str
    pattern: re.Pattern[str]
    domains: tuple[str, ...]
    ranges: AddressRanges | None
    ranges_label: str | None

    def owns_host(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith("." + d) for d in self.domains)


def load_operators(
    operators_file: Path = OPERATORS_FILE, ranges_dir: Path = RANGES_DIR
) -> list[Operator]:
    doc = json.loads(operators_file.read_text())
    operators = []
    for entry in doc["operators"]:
        ranges = label = None
        if entry.get("ranges_file"):
            ranges, created = read_ranges(ranges_dir / entry["ranges_file"])
            label = f"{entry['ranges_file']} of {created}"
        operators.append(
            Operator(
                entry["operator"],
                entry["name"],
                re.compile(entry["user_agent"], re.IGNORECASE),
                tuple(d.lower() for d in entry.get("domains", [])),
                ranges,
                label,
            )  # fmt: skip
        )
    return operators


@functools.cache
def shipped_operators() -> tuple[Operator, ...]:
    data = _package_data()
    return tuple(load_operators(data / "verified_crawlers.json", data / "crawler_ranges"))


def claim_pattern(operators: tuple[Operator, ...] | None = None) -> str:
    """One Java-compatible regex that matches every claim (Spark pre-filters with it)."""
    operators = operators or shipped_operators()
    return "(?i)(" + "|".join(op.pattern.pattern for op in operators) + ")"


def _address(client: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = client[1:-1] if client.startswith("[") and client.endswith("]") else client
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def verdict(client: str | None, user_agent: str | None, operators=None) -> Verdict:
    """The verdict on ``client`` sending ``user_agent`` (see the module docstring)."""
    if not user_agent or not client:
        return NO_CLAIM
    op = next((o for o in operators or shipped_operators() if o.pattern.search(user_agent)), None)
    if op is None:
        return NO_CLAIM
    address = _address(client)
    if address is None:  # a logged host name
        if not op.domains:
            return Verdict(
                op.operator,
                None,
                f"claims {op.name}, which publishes no domain to check {client} against",
            )
        if op.owns_host(client):
            return Verdict(op.operator, False, f"{client} is in {op.name}'s domains")
        return Verdict(
            op.operator,
            True,
            f"claims {op.name} but host {client} is not in {', '.join(op.domains)}",
        )
    if op.ranges is None:
        return Verdict(
            op.operator, None, f"claims {op.name}; no published ranges shipped to check {client}"
        )
    if address in op.ranges:
        return Verdict(
            op.operator, False, f"{client} is in {op.name}'s published ranges ({op.ranges_label})"
        )
    return Verdict(op.operator, True,
                   f"claims {op.name} but {client} is outside its published ranges ({op.ranges_label})")  # fmt: skip


#: The check's columns as one struct, what ``with_crawler_check``'s UDF returns.
CHECK_SCHEMA = "crawler_operator string, spoofed_crawler double, crawler_check string"


def check_frame(clients: Any, agents: Any) -> Any:
    """The three check columns (a pandas DataFrame) of (client, user agent) Series; each
    distinct pair is judged once."""
    import pandas as pd

    judged = {}
    rows = []
    for pair in zip(clients, agents, strict=True):
        if pair not in judged:
            v = verdict(*pair)
            judged[pair] = (v.operator, None if v.spoofed is None else float(v.spoofed), v.reason)
        rows.append(judged[pair])
    return pd.DataFrame.from_records(rows, columns=list(CHECK_COLUMNS), index=clients.index)


def with_crawler_check(sessions: Any) -> Any:
    """Add ``crawler_operator``, ``spoofed_crawler`` (1.0 / 0.0 / null) and ``crawler_check``
    (the reason) to sessions. Like ``declared_crawler`` these are evidence, never model
    features. A vectorised UDF in the same pass as the sessions, not a join on their distinct
    pairs: a join would compute the whole session pipeline twice, once for the pairs."""
    import pandas as pd
    from pyspark.sql import functions as F

    def judged(clients, agents):
        return check_frame(clients, agents)

    # pandas_udf reads its kind from type hints; this module's are strings (PEP 563) and
    # import no pandas at DAG parse time, so the hints are given as objects here.
    judged.__annotations__ = {"clients": pd.Series, "agents": pd.Series, "return": pd.DataFrame}
    checked = F.pandas_udf(judged, CHECK_SCHEMA)(F.col("client"), F.col("user_agent"))
    return (
        sessions.withColumn("_crawler_check", checked)
        .withColumns({name: F.col("_crawler_check")[name] for name in CHECK_COLUMNS})
        .drop("_crawler_check")
    )
