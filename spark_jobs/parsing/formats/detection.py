"""``format: auto``: pick the preset that parses most of a sample of the lines, and say which.

A new user often does not know whether their nginx writes ``main`` or ``combined`` or whether
the vhost is in front; trying the presets on the first lines answers that in a second. The
choice is reported in the ingest run record (and by ``botwatch parse``) with every candidate's
score, so the user can pin it in the config.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from spark_jobs.errors import StageFailed
from spark_jobs.parsing.formats.presets import (
    AUTO_CANDIDATES,
    FORMAT_NAMES,
    JSON_FORMATS,
    compile_format,
    preset,
)
from spark_jobs.parsing.formats.regex import LineFormat
from spark_jobs.parsing.lines import parse_lines

#: Below this share of parsed sample lines no preset is a credible guess.
MIN_SHARE = 0.5
#: A combined log whose lines mostly carry trailing fields is reported as combined_extra.
EXTRA_SHARE = 0.5


@dataclass(frozen=True)
class Detection:
    """The chosen preset, each candidate's parsed share, and the sample size."""

    name: str
    shares: dict[str, float]
    sample_lines: int

    def as_dict(self) -> dict:
        return {"format": self.name, "shares": self.shares, "sample_lines": self.sample_lines}


def detect_format(lines: DataFrame, sample: int = 2000) -> Detection:
    """Try each candidate on the first ``sample`` non-empty lines; ties go to the more specific."""
    head = lines.select("value").where(F.trim("value") != "").limit(sample).cache()
    try:
        total = head.count()
        if total == 0:
            return Detection("combined", {}, 0)
        shares: dict[str, float] = {}
        extra_share = 0.0
        for name in AUTO_CANDIDATES:
            fmt = name if name in JSON_FORMATS else preset(name)
            if not isinstance(fmt, str):
                fmt = replace(fmt, pattern=fmt.strict_pattern)
            parsed = parse_lines(head, fmt).where(F.col("reason").isNull())
            row = parsed.agg(F.count(F.lit(1)).alias("n"), F.count("extra").alias("extra")).first()
            shares[name] = round(row["n"] / total, 4)
            if name == "combined":
                extra_share = row["extra"] / max(row["n"], 1)
    finally:
        head.unpersist()
    best = max(AUTO_CANDIDATES, key=lambda n: (shares[n], -AUTO_CANDIDATES.index(n)))
    if shares[best] < MIN_SHARE:
        listed = ", ".join(f"{n} {s:.0%}" for n, s in shares.items())
        raise StageFailed(
            f"format auto: no preset parses at least {MIN_SHARE:.0%} of the first {total} lines "
            f"({listed}); set source.log_format to the server's LogFormat / log_format string"
        )
    if best == "combined" and extra_share >= EXTRA_SHARE:
        best = "combined_extra"
    return Detection(best, shares, total)


def resolve_format(spec: str) -> str | LineFormat:
    """A preset name / ``json`` / ``auto`` stays a name; anything else is a format string."""
    return spec if spec in FORMAT_NAMES else compile_format(spec)
