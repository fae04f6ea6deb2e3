"""What comes after what within a session: the per-row columns of the sequence features.

Totals and shares (``features.aggregates``) cannot tell a browser from a bot that asks for the
same mix of resources; the order can. A browser loads a page's style sheets, scripts and
images right after the page, a person reads for tens of seconds before the next page, and the
next page's referrer is a page the session fetched. Crawlers fetch pages without their assets,
regularly or in bursts, send referrers they never visited (or none), and scanners run through
long series of errors (Doran & Gokhale 2011 survey these resource-request patterns).

Cost. ``with_time_sequence`` reads the session window (``sessions.by_time``) and shares its
sort: apply it right after ``sessions.with_minute_requests``, before the windows that sort
otherwise. ``with_referrer_fetched`` sorts the rows once more, by path, with one probe row
added per request with a same-site referrer, rather than joining the rows to themselves (each
side of a join would recompute the session windows).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window, WindowSpec
from pyspark.sql import functions as F

from spark_jobs.features.sessions import by_time

#: A static request at most this many seconds after a page is taken to be one of its assets.
ASSET_SECONDS = 10
#: Responses with a status from this one up are errors.
ERROR_STATUS = 400

_URL = r"^[A-Za-z][A-Za-z0-9+.-]*://"
_URL_PATH = _URL + r"[^/?#]*([^?#]*)"
_PRECEDING = (Window.unboundedPreceding, Window.currentRow)


def referrer_path(referrer: Column) -> Column:
    """The path of a referrer URL (after ``scheme://host``, before ``?`` or ``#``; ``/`` when
    the URL has none, as a browser requests it), null when the referrer is not a URL."""
    path = F.regexp_extract(referrer, _URL_PATH, 1)
    return F.when(referrer.rlike(_URL), F.when(path != "", path).otherwise("/"))


def _page() -> Column:
    return F.coalesce(F.col("path_class") == "page", F.lit(False))


def _offset(name: str, value: Column, window: WindowSpec) -> Column:
    """``lag``/``lead`` by one row, skipping nulls: the previous/next row where ``value`` is
    set. Frameless, so one pass however far that row is (a running ``last`` would be too, but
    a look-ahead frame costs a pass per row)."""
    return F.call_function(name, value, F.lit(1), F.lit(None), F.lit(True)).over(window)


def with_time_sequence(df: DataFrame) -> DataFrame:
    """Add ``page_think`` (on a page view: seconds since the session's previous page view,
    else null), ``assets_followed`` (on a page view: 1.0 if a static request of the session
    follows within ``ASSET_SECONDS``, the same instant included, else 0.0; null on other rows)
    and ``error_run`` (on an error: how many errors in a row end with it, else null).

    All three read the session window, rows of ``sessions.with_sessions``, and need no sort
    of their own: apply this before any transform that sorts otherwise.
    """
    window, micros = by_time(df), F.unix_micros(F.col("ts"))
    page, session = _page(), F.col("session")
    visit = F.struct(micros.alias("at"), session.alias("session"))
    static = F.when(F.col("path_class") == "static", visit)
    df = df.withColumns(
        {
            "_seq_previous_page": _offset("lag", F.when(page, visit), window),
            # Requests of one instant are in no useful order: a static one of the page's
            # instant may come just before it, and then it is the last static before it.
            "_seq_previous_static": _offset("lag", static, window),
            "_seq_next_static": _offset("lead", static, window),
            "_seq_rn": F.row_number().over(window),
            "_seq_error": F.coalesce(F.col("status") >= ERROR_STATUS, F.lit(False)),
        }
    )
    before, after = F.col("_seq_previous_static"), F.col("_seq_next_static")
    same_instant = (before["session"] == session) & (before["at"] == micros)
    soon = (after["session"] == session) & (after["at"] - micros <= ASSET_SECONDS * 1_000_000)
    # The last row up to this one that ends an error run: a success, or the session's start.
    rn = F.col("_seq_rn")
    boundary = F.when(~F.col("_seq_error"), rn).when(F.col("iat").isNull(), rn - 1)
    last_boundary = F.max(boundary).over(window.rowsBetween(*_PRECEDING))
    previous = F.col("_seq_previous_page")
    think = (micros - previous["at"]) / 1e6
    return df.withColumns(
        {
            "page_think": F.when(page & (previous["session"] == session), think),
            "assets_followed": F.when(
                page, F.coalesce(same_instant | soon, F.lit(False)).cast("double")
            ),
            "error_run": F.when(F.col("_seq_error"), rn - last_boundary),
        }
    ).drop(*[c for c in df.columns if c.startswith("_seq_")])


def with_referrer_fetched(df: DataFrame, referrer_path_column: str) -> DataFrame:
    """Add ``referrer_fetched``: on every row, how many of its session's requests with a
    ``referrer_path_column`` (non-null) name a path the session requested earlier or at the
    same instant, by another request.

    Each such request is copied into a probe keyed by its referrer's path, next to the
    requests keyed by their own path; along (entity, session, key) by time, a probe is
    fetched when a request of that key comes at or before it. The probes are counted per
    session on the same sort and then dropped, so the rows are those of ``df`` again.
    """
    target = F.col(referrer_path_column)
    copies = F.when(target.isNotNull(), F.array(F.lit(False), F.lit(True)))
    df = df.withColumn("_seq_probe", F.explode(F.coalesce(copies, F.array(F.lit(False)))))
    probe = F.col("_seq_probe")
    df = df.withColumn("_seq_key", F.when(probe, target).otherwise(F.col("path")))
    by_key = Window.partitionBy("entity", "session", "_seq_key").orderBy("ts")
    # The default frame, up to this instant with its ties: the requests of the key so far.
    fetches = F.count(F.when(~probe, 1)).over(by_key)
    own = F.when(probe & (F.col("path") == target), 1).otherwise(0)  # a request's own path
    df = df.withColumn("_seq_fetched", probe & (fetches - own > 0))
    per_session = Window.partitionBy("entity", "session")  # sorted already, by the above
    fetched = F.sum(F.col("_seq_fetched").cast("int")).over(per_session)
    return (
        df.withColumn("referrer_fetched", fetched)
        .where(~probe)
        .drop("_seq_probe", "_seq_key", "_seq_fetched")
    )
