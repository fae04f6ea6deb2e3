"""Enrichment columns of parsed access-log rows: user agent, path class and client network.

Every public ``with_*`` function is a pure transform that keeps every input row and column and
only adds columns, so the ingest stage can apply ``enrich`` and tests can feed tiny DataFrames.

Cost shapes this module. ua-parser, the crawler patterns and ``ipaddress`` are Python, and a log
has far fewer distinct user agents and IPv6 clients than lines (2.7M lines: 11k agents), so
those are described once per distinct value (``mapInPandas``) and broadcast-joined back.
Everything done per line is native Spark SQL, kept small: past 8000 bytes of generated code in
a stage the JVM stops compiling it, and every row gets slower.

The lists below are the documented contract of ``path_class`` (configs and docs cite them). Each
path is lower-cased and stripped of ``scheme://host`` (proxy-style requests) first; the first
rule that matches wins, in this order:

* ``sensitive``: a segment anywhere named in ``SENSITIVE_NAMES``, bare or with one of
  ``SCRIPT_EXTENSIONS`` (``/blog/wp-login.php``, ``/admin``, ``/config.json``); a hidden segment
  (``/.env``, ``/.git/config``, ``/../``) other than ``/.well-known/``; an extension in
  ``SENSITIVE_EXTENSIONS`` (backups, dumps); or a fragment in ``SENSITIVE_FRAGMENTS``.
* ``api``: a segment named in ``API_NAMES`` (same shape), or an extension in ``API_EXTENSIONS``.
* ``static``: an extension in ``STATIC_EXTENSIONS``: images, icons, css, js, source maps, fonts,
  audio and video. Documents and archives (pdf, zip) are content someone asked for: ``page``.
* ``page``: any other path, ``/`` and ``.html`` / ``.php`` / extension-less ones included.
* ``other``: no path (a garbage request line such as ``"-"``).
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

SENSITIVE_NAMES = (
    "admin", "administrator", "wp-admin", "wp-login", "wp-config", "xmlrpc", "login", "signin",
    "phpmyadmin", "pma", "myadmin", "mysqladmin", "adminer", "cgi-bin", "server-status",
    "server-info", "web-inf", "meta-inf", "config", "configuration", "shell", "cmd", "c99",
    "r57", "wso", "phpinfo", "eval-stdin", "phpunit", "actuator", "boaform", "hnap1",
)  # fmt: skip
SCRIPT_EXTENSIONS = (
    "php", "php5", "phtml", "asp", "aspx", "jsp", "do", "action", "cgi", "pl", "py", "sh",
    "html", "htm", "json", "xml", "yml", "yaml", "ini", "conf", "inc", "bak", "old", "txt",
)  # fmt: skip
SENSITIVE_EXTENSIONS = ("bak", "old", "orig", "save", "swp", "sql", "sqlite", "env", "ini", "pem")
SENSITIVE_FRAGMENTS = ("etc/passwd", "proc/self/", "win.ini", "%2e%2e", "wp-config")
API_NAMES = ("api", "apis", "graphql", "wp-json", "rest", "jsonrpc")
API_EXTENSIONS = ("json",)
STATIC_EXTENSIONS = (
    "png", "jpg", "jpeg", "gif", "svg", "ico", "cur", "webp", "avif", "bmp", "tif", "tiff",
    "css", "js", "mjs", "map", "woff", "woff2", "ttf", "otf", "eot",
    "mp3", "mp4", "m4a", "m4v", "ogg", "oga", "ogv", "wav", "flac", "webm", "mov", "avi",
    "mpg", "mpeg", "flv", "swf",
)  # fmt: skip

#: The columns ``enrich`` adds, in order.
ENRICHED_SCHEMA = T.StructType(
    [
        T.StructField("ua_family", T.StringType()),
        T.StructField("ua_major", T.StringType()),
        T.StructField("os_family", T.StringType()),
        T.StructField("device_family", T.StringType()),
        T.StructField("is_declared_crawler", T.BooleanType(), nullable=False),
        T.StructField("crawler_name", T.StringType()),
        T.StructField("extension", T.StringType()),
        T.StructField("path_class", T.StringType(), nullable=False),
        T.StructField("client_ip", T.StringType()),
        T.StructField("client_host", T.StringType()),
        T.StructField("ip_version", T.IntegerType()),
        T.StructField("client_prefix", T.StringType()),
    ]
)
_UA_COLUMNS = ENRICHED_SCHEMA.fieldNames()[:6]
# Temporary columns carry this prefix, so they never meet a caller's column.
_TMP = "_enrichment_"
_KEY = _TMP + "key"
_AGENTS = T.StructType(
    [T.StructField(_KEY, T.StringType())]
    + [T.StructField(_TMP + f.name, f.dataType) for f in ENRICHED_SCHEMA.fields[:6]]
)
_IPV6 = T.StructType(
    [T.StructField(_KEY, T.StringType())]
    + [T.StructField(_TMP + n, T.StringType()) for n in ("ip", "ip_version", "ip_prefix")]
)


# --- distinct user agents and IPv6 clients: once each, in Python -----------------------


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
        yield frame.astype({_TMP + "is_declared_crawler": bool})


def _ipv6_batches(batches: Iterator[Any]) -> Iterator[Any]:
    import pandas as pd

    for batch in batches:
        described = ((c, describe_ipv6(c)) for c in batch[_KEY])
        rows = [(c, *(map(str, d) if d else (None, None, None))) for c, d in described]
        yield pd.DataFrame.from_records(rows, columns=_IPV6.fieldNames())


def _join_described(
    df: DataFrame, key: Column, describe: Any, schema: T.StructType, broadcast: bool
) -> DataFrame:
    """Left-join ``df`` on ``key`` with ``describe`` run once per distinct non-null key."""
    keys = df.select(key.alias(_KEY)).where(F.col(_KEY).isNotNull()).distinct()
    described = keys.mapInPandas(describe, schema)
    right = F.broadcast(described) if broadcast else described
    on = F.col(_TMP + "join_key") == F.col(_KEY)
    joined = df.withColumn(_TMP + "join_key", key).join(right, on, "left")
    return joined.drop(_TMP + "join_key", _KEY)


def with_user_agent_fields(df: DataFrame, broadcast: bool = True) -> DataFrame:
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
    ingest stage enriches its cached lines.
    """
    joined = _join_described(df, F.col("user_agent"), _agent_batches, _AGENTS, broadcast)
    added = {name: F.col(_TMP + name) for name in _UA_COLUMNS}
    added["is_declared_crawler"] = F.coalesce(added["is_declared_crawler"], F.lit(False))
    return joined.select(*[F.col(c) for c in df.columns], *[c.alias(n) for n, c in added.items()])


# --- paths ----------------------------------------------------------------------------------


def _alternation(words: tuple[str, ...]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in words) + ")"


def _normalised(path: Column) -> Column:
    """Lower case, without the ``scheme://host`` of proxy-style targets, always starting with
    ``/``: segment rules anchor on ``/``, as ``(?:^|/)`` makes Java's regex several times slower."""
    lowered = F.lower(path)
    target = F.regexp_replace(lowered, r"^[a-z][a-z0-9+.-]*://[^/]*/?", "")
    return F.when(lowered.startswith("/"), lowered).otherwise(F.concat(F.lit("/"), target))


def _extension(path: Column) -> Column:
    """Of the last segment without ``;params``, after its leading dots (``.env`` has none), as
    ``os.path.splitext`` does. Byte-level string functions: no regex, no array."""
    segment = F.substring_index(F.substring_index(path, "/", -1), ";", 1)
    stem = F.ltrim(segment, F.lit("."))
    ext = F.substring_index(stem, ".", -1)
    return F.when(stem.contains(".") & (ext != ""), F.substring(ext, 1, 10))


def _named_segment(names: tuple[str, ...]) -> str:
    return rf"/{_alternation(names)}(?:\.{_alternation(SCRIPT_EXTENSIONS)})?(?:/|$)"


_SENSITIVE_NAME_RE = _named_segment(SENSITIVE_NAMES)
_HIDDEN_RE = r"/\.(?!well-known(?:/|$))[^/]"
_API_NAME_RE = _named_segment(API_NAMES)


def _path_class(path: Column, extension: Column) -> Column:
    """One small test per rule, OR-ed so the first true one ends it: Java's regex is several
    times slower on one alternation of all of them."""
    sensitive = path.rlike(_SENSITIVE_NAME_RE) | (path.contains("/.") & path.rlike(_HIDDEN_RE))
    sensitive |= extension.isin(*SENSITIVE_EXTENSIONS)
    for fragment in SENSITIVE_FRAGMENTS:
        sensitive |= path.contains(fragment)
    return (
        F.when(path.isNull(), "other")
        .when(sensitive, "sensitive")
        .when(path.rlike(_API_NAME_RE) | extension.isin(*API_EXTENSIONS), "api")
        .when(extension.isin(*STATIC_EXTENSIONS), "static")
        .otherwise("page")
    )


def _with_path_fields(df: DataFrame, names: tuple[str, ...]) -> DataFrame:
    """Add the ``names`` among ``extension`` and ``path_class``.

    The normalised path and the extension are temporary columns because every rule reads them:
    as expressions, Spark would recompute them for each operand of an OR it evaluates.
    """
    norm, ext = _TMP + "path", _TMP + "extension"
    df = df.withColumn(norm, _normalised(F.col("path")))
    df = df.withColumn(ext, _extension(F.col(norm)))
    added = {
        "extension": F.col(ext).alias("extension"),
        "path_class": _path_class(F.col(norm), F.col(ext)).alias("path_class"),
    }
    return df.select(*[c for c in df.columns if c not in (norm, ext)], *[added[n] for n in names])


def with_extension(df: DataFrame) -> DataFrame:
    """Add ``extension``: lower-cased, at most 10 characters, null when the last segment has
    none (``/a/b.JPG`` -> ``jpg``, ``/a/`` and ``/a.b/c`` -> null)."""
    return _with_path_fields(df, ("extension",))


def with_path_class(df: DataFrame) -> DataFrame:
    """Add ``path_class`` (see the module docstring): what kind of resource a request asks for,
    so features can count admin probing or API use without re-deriving it from paths."""
    return _with_path_fields(df, ("path_class",))


# --- clients --------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"
# Labels of letters, digits, ``_`` and ``-`` (lenient: real logs hold odd names); the last one
# holds a letter: top-level domains are never all-numeric, and 1.2.3.999 is garbage, not a host.
# Possessive quantifiers keep Java's regex from backtracking inside labels.
_HOST = r"^(?:[a-z0-9_-]++\.)*[0-9_-]*+[a-z][a-z0-9_-]*+\.?$"


def _client_columns(df: DataFrame) -> DataFrame:
    """The client columns from the joined ``_enrichment_ip*`` columns of IPv6 clients."""
    client, is_v4 = F.col("client"), F.col(_TMP + "is_ipv4")
    lowered = F.lower(client)
    # An IPv4 never matches _HOST; the test only saves the regex on the (common) IPv4 rows.
    host = F.when(~is_v4 & lowered.rlike(_HOST), F.regexp_replace(lowered, r"\.$", ""))
    parent = F.regexp_replace(F.col("client_host"), r"^[^.]*\.", "")
    prefix = (
        F.when(is_v4, F.concat(F.substring_index(client, ".", 3), F.lit(".0/24")))
        .when(F.col(_TMP + "ip_prefix").isNotNull(), F.col(_TMP + "ip_prefix"))
        .when(F.col("client_host").isNotNull(), parent)
    )
    columns = {
        "client_ip": F.when(is_v4, client).otherwise(F.col(_TMP + "ip")),
        "client_host": host,
        "ip_version": F.when(is_v4, 4).otherwise(F.col(_TMP + "ip_version")).cast("int"),
    }
    return (
        df.withColumn(_TMP + "is_ipv4", client.rlike(_IPV4))
        .withColumns(columns)
        .withColumn("client_prefix", prefix)
        .drop(*[c for c in df.columns if c.startswith(_TMP)], _TMP + "is_ipv4")
    )


def with_client_fields(df: DataFrame) -> DataFrame:
    """Add ``client_ip``, ``client_host``, ``ip_version`` and ``client_prefix``.

    Normalised so one client has one spelling: IPv6 in compressed lower case, an IPv4-mapped
    IPv6 (``::ffff:1.2.3.4``) as the IPv4 it is, host names in lower case without a trailing
    dot. ``client_prefix`` groups neighbours that one operator usually controls: the IPv4 /24,
    the IPv6 /64 (one customer or server), or a host's parent domain (``search.msn.com``); it is
    null for garbage clients such as ``-``, which are neither an IP nor a host.
    """
    # IPv6 (rare) is normalised in Python on its distinct values: natively it takes ~7 KB of
    # generated code, and past 8 KB per stage the JVM stops compiling it: every row pays.
    ipv6 = F.when(F.col("client").contains(":"), F.col("client"))
    return _client_columns(_join_described(df, ipv6, _ipv6_batches, _IPV6, broadcast=True))


def enrich(df: DataFrame, broadcast: bool = True) -> DataFrame:
    """All enrichment columns (``ENRICHED_SCHEMA``, in its order), after the input columns.

    Reads ``df`` three times (distinct user agents, distinct IPv6 clients, the rows): cache it
    first, as the ingest stage does, or its parsing runs three times.
    """
    df = with_user_agent_fields(df, broadcast=broadcast)
    return with_client_fields(_with_path_fields(df, ("extension", "path_class")))
