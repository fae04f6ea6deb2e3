"""Site-relative features: where a session stands among the sessions of its own interval.

Raw values depend on the site: a page of one site pulls 5 assets and of another 80; a busy
site's people make more requests than a quiet site's crawlers. A model that learnt "more than
40 requests is a bot" on one site misjudges the next. A session's percentile within its
interval's population says what is *big for this site*, whatever its scale, so a model trained
on other sites' logs (the shipped general model, the cross-site evaluation) can read it.

The percentile is the mid-rank: ``(percent_rank + cume_dist) / 2`` over the population ordered
by the raw value, so ties share one value (a population where most sessions have 0 puts them
all at the same low percentile, not spread over 0-1), a lone session is 0.5, and values stay
in (0, 1]. One window sort per feature over the interval's sessions (thousands of rows for a
day of a small site), computed after every raw feature.
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from spark_jobs.features.catalog import RELATIVE_BASES, RELATIVE_SUFFIX


def _mid_rank(value: str, window: Window) -> Column:
    ordered = window.orderBy(F.col(value).asc_nulls_first())
    return (F.percent_rank().over(ordered) + F.cume_dist().over(ordered)) / 2.0


def with_relative_features(sessions: DataFrame, population: Column | None = None) -> DataFrame:
    """Add ``<base>_pct`` for every base in ``RELATIVE_BASES`` that ``sessions`` holds.

    ``population`` groups the sessions that are compared with each other (e.g. the UTC day of
    ``session_start`` when one data set holds many days); None: all of ``sessions``, which is
    one interval in the feature stage.
    """
    window = Window.partitionBy(population if population is not None else F.lit(0))
    present = [b for b in RELATIVE_BASES if b in sessions.columns]
    return sessions.withColumns(
        {b + RELATIVE_SUFFIX: _mid_rank(b, window).cast("double") for b in present}
    )
