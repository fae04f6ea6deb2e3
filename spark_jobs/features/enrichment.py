"""Enrichment columns of parsed access-log rows: user agent, path class and client network.

Every public ``with_*`` function is a pure transform that keeps every input row and column and
only adds columns, so the ingest stage can apply ``enrich`` and tests can feed tiny DataFrames.

Cost shapes this module. What needs Python (user agents, IPv6 clients) is described once per
distinct value (``features.python_described``). Everything done per line is native Spark SQL, kept
small: past 8000 bytes of generated code in a stage the JVM stops compiling it, and every row
gets slower. The path rules (``path_class``) are listed and documented in ``features.paths``.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from spark_jobs.features import paths
from spark_jobs.features.python_described import (
    IPV6_SCHEMA,
    TMP,
    USER_AGENT_SCHEMA,
    ipv6_batches,
    join_described,
    remembered_agents,
    with_user_agent_fields,
)

#: The columns ``enrich`` adds, in order.
ENRICHED_SCHEMA = T.StructType(
    [
        *USER_AGENT_SCHEMA.fields,
        T.StructField("extension", T.StringType()),
        T.StructField("path_class", T.StringType(), nullable=False),
        T.StructField("client_ip", T.StringType()),
        T.StructField("client_host", T.StringType()),
        T.StructField("ip_version", T.IntegerType()),
        T.StructField("client_prefix", T.StringType()),
    ]
)
#: The path columns, in ``ENRICHED_SCHEMA`` order.
PATH_FIELDS = ("extension", "path_class")


# --- paths ----------------------------------------------------------------------------------


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
    return F.when(stem.contains(".") & (ext != ""), F.substring(ext, 1, paths.MAX_EXTENSION))


def _path_class(path: Column, extension: Column) -> Column:
    """One small test per rule, OR-ed so the first true one ends it: Java's regex is several
    times slower on one alternation of all of them."""
    hidden = path.contains("/.") & path.rlike(paths.HIDDEN_PATTERN)
    sensitive = path.rlike(paths.SENSITIVE_NAME_PATTERN) | hidden
    sensitive |= extension.isin(*paths.SENSITIVE_EXTENSIONS)
    for fragment in paths.SENSITIVE_FRAGMENTS:
        sensitive |= path.contains(fragment)
    api = path.rlike(paths.API_NAME_PATTERN) | extension.isin(*paths.API_EXTENSIONS)
    return (
        F.when(path.isNull(), "other")
        .when(sensitive, "sensitive")
        .when(api, "api")
        .when(extension.isin(*paths.STATIC_EXTENSIONS), "static")
        .otherwise("page")
    )


def with_path_fields(df: DataFrame, names: tuple[str, ...] = PATH_FIELDS) -> DataFrame:
    """Add the ``names`` among ``extension`` and ``path_class`` that ``df`` does not have yet.

    The normalised path and the extension are temporary columns because every rule reads them:
    as expressions, Spark would recompute them for each operand of an OR it evaluates.
    """
    names = tuple(n for n in names if n not in df.columns)
    if not names:
        return df
    norm, ext = TMP + "path", TMP + "extension"
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
    return with_path_fields(df, ("extension",))


def with_path_class(df: DataFrame) -> DataFrame:
    """Add ``path_class`` (see ``features.paths``): what kind of resource a request asks for,
    so features can count admin probing or API use without re-deriving it from paths."""
    return with_path_fields(df, ("path_class",))


# --- clients --------------------------------------------------------------------------------

_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_IPV4 = rf"^{_OCTET}(?:\.{_OCTET}){{3}}$"
# Labels of letters, digits, ``_`` and ``-`` (lenient: real logs hold odd names); the last one
# holds a letter: top-level domains are never all-numeric, and 1.2.3.999 is garbage, not a host.
# Possessive quantifiers keep Java's regex from backtracking inside labels.
_HOST = r"^(?:[a-z0-9_-]++\.)*[0-9_-]*+[a-z][a-z0-9_-]*+\.?$"


def _client_columns(df: DataFrame) -> DataFrame:
    """The client columns from the joined ``_enrichment_ip*`` columns of IPv6 clients."""
    client, is_v4 = F.col("client"), F.col(TMP + "is_ipv4")
    lowered = F.lower(client)
    # An IPv4 never matches _HOST; the test only saves the regex on the (common) IPv4 rows.
    host = F.when(~is_v4 & lowered.rlike(_HOST), F.regexp_replace(lowered, r"\.$", ""))
    parent = F.regexp_replace(F.col("client_host"), r"^[^.]*\.", "")
    prefix = (
        F.when(is_v4, F.concat(F.substring_index(client, ".", 3), F.lit(".0/24")))
        .when(F.col(TMP + "ip_prefix").isNotNull(), F.col(TMP + "ip_prefix"))
        .when(F.col("client_host").isNotNull(), parent)
    )
    columns = {
        "client_ip": F.when(is_v4, client).otherwise(F.col(TMP + "ip")),
        "client_host": host,
        "ip_version": F.when(is_v4, 4).otherwise(F.col(TMP + "ip_version")).cast("int"),
    }
    return (
        df.withColumn(TMP + "is_ipv4", client.rlike(_IPV4))
        .withColumns(columns)
        .withColumn("client_prefix", prefix)
        .drop(*[c for c in df.columns if c.startswith(TMP)], TMP + "is_ipv4")
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
    return _client_columns(join_described(df, ipv6, ipv6_batches, IPV6_SCHEMA, broadcast=True))


def enrich(df: DataFrame, broadcast: bool = True, agents: str | None = None) -> DataFrame:
    """All enrichment columns (``ENRICHED_SCHEMA``, in its order), after the input columns.

    Reads ``df`` three times (distinct user agents, distinct IPv6 clients, the rows): cache it
    first, or read it from Parquet as the ingest stage does, or its parsing runs three times.
    ``agents``: a folder of remembered user-agent descriptions (``remembered_agents``).
    """
    described = None if agents is None else remembered_agents(df.sparkSession, df, agents)
    df = with_user_agent_fields(df, broadcast=broadcast, described=described)
    return with_client_fields(with_path_fields(df))
