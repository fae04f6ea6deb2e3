"""Columns worked out in Python once per distinct value: user agents and IPv6 clients.

ua-parser, the crawler patterns and ``ipaddress`` are Python, and a log has far fewer distinct
user agents and IPv6 clients than lines (2.7M lines: 11k agents), so those are described once per
distinct value (``mapInPandas``) and broadcast-joined back (``join_described``), instead of a
Python UDF per line. ``features.enrichment`` puts these columns together with the native ones.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterator
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

#: The columns ``with_user_agent_fields`` adds, in order.
USER_AGENT_SCHEMA = T.StructType(
    [
        T.StructField("ua_family", T.StringType()),
        T.StructField("ua_major", T.StringType()),
        T.StructField("os_family", T.StringType()),
        T.StructField("device_family", T.StringType()),
        T.StructField("is_declared_crawler", T.BooleanType(), nullable=False),
        T.StructField("crawler_name", T.StringType()),
    ]
)
_UA_COLUMNS = USER_AGENT_SCHEMA.fieldNames()
#: Temporary columns carry this prefix, so they never meet a caller's column.
TMP = "_enrichment_"
_KEY = TMP + "key"
_AGENTS = T.StructType(
    [T.StructField(_KEY, T.StringType())]
    + [T.StructField(TMP + f.name, f.dataType) for f in USER_AGENT_SCHEMA.fields]
)
#: The output of ``ipv6_batches``: the key, then ``ip``, ``ip_version``, ``ip_prefix`` (prefixed).
IPV6_SCHEMA = T.StructType(
    [T.StructField(_KEY, T.StringType())]
    + [T.StructField(TMP + n, T.StringType()) for n in ("ip", "ip_version", "ip_prefix")]
)


@functools.cache
def _describer() -> Any:
    """Build the parsers once per Python worker (workers are reused across tasks).

    Crawler matching follows ``crawleruseragents.is_crawler``: case-sensitive ``re`` patterns
    joined in chunks of ``CHUNK_SIZE`` (one alternation of all 1,500 patterns is ~4x slower in
    ``re``). The first chunk that matches holds the first matching pattern, so only its members
    are tried one by one, and only for crawlers.
    """
    from crawleruseragents import CHUNK_SIZE, CRAWLER_USER_AGENTS_DATA
    from ua_parser import Domain, load_lazy_builtins
    from ua_parser.regex import Resolver

    # Lazy matchers skip compiling Python regexes the Rust resolver never uses; no cache:
    # every value it sees is distinct.
    resolver = Resolver(load_lazy_builtins())
    patterns = [entry["pattern"] for entry in CRAWLER_USER_AGENTS_DATA]
    chunks = [
        (re.compile("|".join(members)), [(p, re.compile(p)) for p in members])
        for members in (patterns[i : i + CHUNK_SIZE] for i in range(0, len(patterns), CHUNK_SIZE))
    ]

    def describe(ua: str) -> tuple[Any, ...]:
        result = resolver(ua, Domain.ALL).complete().with_defaults()
        crawler = None
        for combined, members in chunks:
            if combined.search(ua):
                crawler = next((p for p, rx in members if rx.search(ua)), "")
                break
        return (
            result.user_agent.family,
            result.user_agent.major,
            result.os.family,
            result.device.family,
            crawler is not None,
            crawler or None,
        )

    return describe


def describe_user_agent(ua: str) -> dict[str, Any]:
    """The user-agent columns for one non-null user agent, as ``with_user_agent_fields`` adds."""
    return dict(zip(_UA_COLUMNS, _describer()(ua), strict=True))


def describe_ipv6(client: str) -> tuple[str, int, str] | None:
    """(client_ip, ip_version, client_prefix) of an IPv6 literal (bracketed or not), else None.

    ``ipaddress`` gives the RFC 5952 text; an IPv4-mapped address is the IPv4 it carries.
    """
    text = client[1:-1] if client.startswith("[") and client.endswith("]") else client
    try:
        addr = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    if addr.scope_id is not None:  # fe80::1%eth0 names an interface of the server, not a client
        return None
    if (v4 := addr.ipv4_mapped) is not None:
        return str(v4), 4, str(ipaddress.IPv4Network((int(v4) >> 8 << 8, 24)))
    return addr.compressed, 6, str(ipaddress.IPv6Network((int(addr) >> 64 << 64, 64)))


def _agent_batches(batches: Iterator[Any]) -> Iterator[Any]:
    import pandas as pd

    describe = _describer()
    for batch in batches:
        rows = [(ua, *describe(ua)) for ua in batch[_KEY]]
        frame = pd.DataFrame.from_records(rows, columns=_AGENTS.fieldNames())
        yield frame.astype({TMP + "is_declared_crawler": bool})


def ipv6_batches(batches: Iterator[Any]) -> Iterator[Any]:
    import pandas as pd

    for batch in batches:
        described = ((c, describe_ipv6(c)) for c in batch[_KEY])
        rows = [(c, *(map(str, d) if d else (None, None, None))) for c, d in described]
        yield pd.DataFrame.from_records(rows, columns=IPV6_SCHEMA.fieldNames())


def join_described(
    df: DataFrame, key: Column, describe: Any, schema: T.StructType, broadcast: bool
) -> DataFrame:
    """Left-join ``df`` on ``key`` with ``describe`` run once per distinct non-null key."""
    keys = df.select(key.alias(_KEY)).where(F.col(_KEY).isNotNull()).distinct()
    described = keys.mapInPandas(describe, schema)
    right = F.broadcast(described) if broadcast else described
    on = F.col(TMP + "join_key") == F.col(_KEY)
    joined = df.withColumn(TMP + "join_key", key).join(right, on, "left")
    return joined.drop(TMP + "join_key", _KEY)


#: Bump when ``_describer`` describes user agents differently: remembered ones are dropped.
DESCRIBER_VERSION = 1


def describer_version() -> str:
    """What the remembered descriptions depend on: this module's rules and both packages."""
    from importlib.metadata import version

    packages = (version("ua-parser"), version("crawler-user-agents"))
    return re.sub(r"[^0-9A-Za-z._-]", "_", f"{DESCRIBER_VERSION}-{'-'.join(packages)}")


def remembered_agents(spark: Any, df: DataFrame, folder: str) -> DataFrame:
    """The described rows of ``df``'s distinct user agents, describing only those ``folder``
    does not hold yet and adding them to it (one ``part=`` folder per run).

    A day's run of a site sees mostly the agents of earlier days: they are read, not parsed
    again in Python. Two runs adding the same agent at once add it twice; reads keep one.
    A run killed while writing leaves only Spark's ``_temporary`` files, which reads skip.
    """
    import uuid

    from spark_jobs.lake import storage

    keys = df.select(F.col("user_agent").alias(_KEY)).where(F.col(_KEY).isNotNull()).distinct()
    if storage.exists(spark, folder):
        known = spark.read.schema(_AGENTS).parquet(folder).select(_KEY)
        keys_to_describe = keys.join(known, _KEY, "left_anti")
    else:
        keys_to_describe = keys
    described = keys_to_describe.mapInPandas(_agent_batches, _AGENTS)
    described.write.parquet(f"{folder}/part={uuid.uuid4().hex[:16]}")
    every = spark.read.schema(_AGENTS).parquet(folder).select(*_AGENTS.fieldNames())
    return every.join(keys, _KEY, "left_semi").dropDuplicates([_KEY])


def with_user_agent_fields(
    df: DataFrame, broadcast: bool = True, described: DataFrame | None = None
) -> DataFrame:
    """Add ``ua_family``, ``ua_major``, ``os_family``, ``device_family`` (ua-parser),
    ``is_declared_crawler`` and ``crawler_name`` (crawler-user-agents).

    ``is_declared_crawler`` is a weak label, not a behavioural feature: it says the client
    *calls itself* a crawler. Honest crawlers set it, scrapers that spoof a browser never do,
    and anyone can spoof Googlebot; use it to explain or to evaluate, never as model input.
    ``crawler_name`` is the first matching pattern of the package's list, to show why.

    Families are ua-parser's ``"Other"`` for a user agent it does not recognise, so the columns
    are null only without a user agent (and then ``is_declared_crawler`` is false).

    The distinct set is broadcast: ~0.5% of lines in real logs, a few MB. Pass
    ``broadcast=False`` for logs where most lines carry a unique (randomised) user agent.
    Without caching, ``df`` is computed twice (for the distinct set and for the join): the
    ingest stage enriches lines it reads from Parquet. ``described``: the rows of
    ``remembered_agents`` instead of describing every distinct agent now.
    """
    if described is None:
        joined = join_described(df, F.col("user_agent"), _agent_batches, _AGENTS, broadcast)
    else:
        right = F.broadcast(described) if broadcast else described
        on = F.col("user_agent") == F.col(_KEY)
        joined = df.join(right, on, "left").drop(_KEY)
    added = {name: F.col(TMP + name) for name in _UA_COLUMNS}
    added["is_declared_crawler"] = F.coalesce(added["is_declared_crawler"], F.lit(False))
    return joined.select(*[F.col(c) for c in df.columns], *[c.alias(n) for n, c in added.items()])
