"""feature -> train -> score through the stages' main() on a tmp lake, and a fresh-process load."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from spark_jobs import feature, lake, score, train
from spark_jobs.usecase_schema import KNOWN_FEATURES

USE_CASE = "bots_roundtrip"
DAYS = [datetime(2015, 5, 1, tzinfo=UTC), datetime(2015, 5, 16, tzinfo=UTC), datetime(2015, 5, 17, tzinfo=UTC)]  # fmt: skip
MODEL_FEATURES = [
    "requests",
    "distinct_path_ratio",
    "status_4xx_share",
    "no_referrer_share",
    "iat_mean",
]
PARSED_SCHEMA = (
    "ts timestamp, ts_offset string, client string, ident string, auth_user string, "
    "method string, path string, query string, protocol string, request string, status int, "
    "bytes long, referrer string, user_agent string, source_file string"
)

CONFIG = f"""
id: {USE_CASE}
description: round trip test
start_date: 2015-05-01
source:
  path: unused/*.log
entity:
  key: client
features: [{", ".join(MODEL_FEATURES)}]
model:
  k: 3
  max_iter: 10
  training_window_days: 7
spark:
  spark.sql.shuffle.partitions: "2"
"""


def _parsed_rows(day: datetime, rng: np.random.Generator) -> list[tuple]:
    """Ten browsing clients with varied pace, and two crawlers: fast, no referrer, many 404s."""
    rows = []
    for c in range(12):
        bot = c >= 10
        n = int(rng.integers(40, 60)) if bot else int(rng.integers(3, 15))
        ts = day + timedelta(hours=int(rng.integers(0, 20)))
        for i in range(n):
            ts += timedelta(seconds=float(rng.uniform(0.2, 1.0) if bot else rng.uniform(5, 120)))
            path = f"/p{i}" if bot else f"/p{int(rng.integers(0, 4))}"
            status = 404 if bot and i % 3 == 0 else 200
            referrer = None if bot else "http://example.org/"
            rows.append((ts, "+0000", f"10.0.0.{c}", "-", "-", "GET", path, None, "HTTP/1.1",
                         f"GET {path} HTTP/1.1", status, int(rng.integers(100, 5000)), referrer,
                         "crawler/1.0" if bot else "Mozilla/5.0", "t.log"))  # fmt: skip
    return rows


def _args(config, lake_root, day: datetime) -> list[str]:
    end = day + timedelta(days=1)
    return ["--config", str(config), "--start", day.isoformat(), "--end", end.isoformat(),
            "--lake", str(lake_root)]  # fmt: skip


@pytest.fixture(scope="module")
def roundtrip(spark, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roundtrip")
    config, root = tmp / f"{USE_CASE}.yaml", str(tmp / "lake")
    config.write_text(CONFIG)
    rng = np.random.default_rng(7)
    for day in DAYS:
        parsed = spark.createDataFrame(_parsed_rows(day, rng), PARSED_SCHEMA)
        parsed.write.parquet(lake.partition_path(root, "parsed", USE_CASE, day))
        assert feature.main(_args(config, root, day)) == 0
    last = DAYS[-1]
    codes = (train.main(_args(config, root, last)), score.main(_args(config, root, last)))
    return {"config": config, "root": root, "day": last, "codes": codes}


def _record(spark, roundtrip, stage):
    key = lake.interval_key(roundtrip["day"])
    return lake.read_json(
        spark, f"{roundtrip['root']}/runs/use_case={USE_CASE}/interval={key}/{stage}.json"
    )


def test_stages_succeed_and_record_their_runs(spark, roundtrip):
    assert roundtrip["codes"] == (0, 0)
    assert _record(spark, roundtrip, "feature")["entities"] == 12
    assert _record(spark, roundtrip, "train")["rows"] == 24
    record = _record(spark, roundtrip, "score")
    assert record["entities"] == 12 and record["model_version"] == "kmeans-20150517T000000Z"
    assert 0.0 <= record["p50"] <= record["p90"] <= record["p99"] <= record["max"] <= 100.0


def test_model_metadata_covers_only_the_trailing_window(spark, roundtrip):
    models = lake.partition_path(roundtrip["root"], "models", USE_CASE, roundtrip["day"])
    meta = lake.read_json(spark, f"{models}/metadata.json")
    assert meta["intervals"] == ["20150516T000000Z", "20150517T000000Z"]
    assert meta["window_start"] == "2015-05-11T00:00:00+00:00"
    assert meta["features"] == MODEL_FEATURES and meta["params"]["k"] == 3
    assert len(meta["calibration_quantiles"]) == 1001


def test_scores_have_the_contract_columns(spark, roundtrip):
    scores = spark.read.parquet(
        lake.partition_path(roundtrip["root"], "scores", USE_CASE, roundtrip["day"])
    )
    assert scores.columns == score.score_columns()
    assert dict(scores.dtypes)["requests"] == "double"
    rows = scores.collect()
    assert len(rows) == 12 and {r["model_version"] for r in rows} == {"kmeans-20150517T000000Z"}
    for r in rows:
        assert 0.0 <= r["score"] <= 100.0
        assert len(r["contributions"]) == 5
        assert {c["feature"] for c in r["contributions"]} == set(MODEL_FEATURES)
    assert set(KNOWN_FEATURES) <= set(scores.columns)


def test_scoring_before_any_model_fails_cleanly(roundtrip):
    assert score.main(_args(roundtrip["config"], roundtrip["root"], DAYS[1])) == 1


def test_saved_pipeline_loads_in_a_fresh_process(roundtrip):
    models = lake.partition_path(roundtrip["root"], "models", USE_CASE, roundtrip["day"])
    features = lake.partition_path(roundtrip["root"], "features", USE_CASE, roundtrip["day"])
    code = (
        "import sys\n"
        "from pyspark.sql import SparkSession\n"
        "from pyspark.ml import PipelineModel\n"
        "spark = SparkSession.builder.master('local[1]').config('spark.ui.enabled', 'false')"
        ".getOrCreate()\n"
        "model = PipelineModel.load(sys.argv[1])\n"
        "n = model.transform(spark.read.parquet(sys.argv[2])).select('cluster').count()\n"
        "ours = sorted(m for m in sys.modules if m.startswith('spark_jobs'))\n"
        "print('RESULT', ','.join(type(s).__name__ for s in model.stages), n, ours)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, f"{models}/pipeline", features],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = next(line for line in done.stdout.splitlines() if line.startswith("RESULT"))
    assert result == "RESULT SQLTransformer,VectorAssembler,StandardScalerModel,KMeansModel 12 []"
