"""The feature stage's main() on a tmp lake: what it writes and what its run record says."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spark_jobs import feature
from spark_jobs.features.behaviour import SESSION_COLUMNS
from spark_jobs.features.catalog import ALL_FEATURE_NAMES
from spark_jobs.lake import layout
from tests.support.builders import run_record, stage_args, usecase_yaml
from tests.support.parsed_rows import PARSED_SCHEMA, parsed_row

USE_CASE = "feature_stage"
DAY = datetime(2015, 5, 17, tzinfo=UTC)


def test_feature_stage_writes_sessions_and_records_counts(spark, tmp_path, capsys):
    config = usecase_yaml(
        tmp_path, USE_CASE, entity={"key": "client_user_agent", "session_gap_minutes": 30},
        features=["requests", "path_entropy", "unknown_resource_404_share"],
    )  # fmt: skip
    root = str(tmp_path / "lake")
    at = [DAY + timedelta(hours=1, minutes=m) for m in (0, 1, 50, 51)]
    rows = [
        *[parsed_row(t, "1.1.1.1") for t in at],  # two sessions: a 49-minute pause
        parsed_row(at[0], "1.1.1.1", user_agent="curl/8.0"),  # another entity, same client
        parsed_row(at[0], None),  # no client: unattributed
    ]
    spark.createDataFrame(rows, PARSED_SCHEMA).write.parquet(
        layout.partition_path(root, "parsed", USE_CASE, DAY)
    )
    assert feature.main(stage_args(config, DAY, DAY + timedelta(days=1), root)) == 0

    record = run_record(spark, root, USE_CASE, DAY, "feature")
    assert set(record) == {
        "stage", "use_case", "interval_start", "interval_end", "outcome", "sessions", "entities",
        "unattributed_rows", "entity_key", "session_gap_minutes", "output",
    }  # fmt: skip
    assert (record["sessions"], record["entities"], record["unattributed_rows"]) == (3, 2, 1)
    summary = capsys.readouterr().err
    assert f"botwatch feature ok  use case {USE_CASE}" in summary
    assert "  counts    sessions 3  entities 2  unattributed rows 1\n" in summary
    assert (record["entity_key"], record["session_gap_minutes"]) == ("client_user_agent", 30.0)
    written = spark.read.parquet(layout.partition_path(root, "features", USE_CASE, DAY))
    assert tuple(written.columns) == (*SESSION_COLUMNS, *ALL_FEATURE_NAMES)
