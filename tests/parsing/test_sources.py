"""Reading files so nothing is lost: line numbers, damaged .gz, .bz2, empty files, bad UTF-8,
landing folders per hour, and the out-of-window policies."""

from __future__ import annotations

import bz2
import gzip
from datetime import UTC, date, datetime

import pytest

from spark_jobs import ingest
from spark_jobs.config.loading import load_usecase
from spark_jobs.parsing.files import parse_files, quarantine_of
from spark_jobs.parsing.sources import list_files
from tests.support.builders import run_record, stage_args, usecase_yaml

LINE = '1.2.3.4 - - [05/Mar/2024:{}:00:{:02d} +0000] "GET /{} HTTP/1.1" 200 5 "-" "curl/8"'
START = datetime(2024, 3, 5, 10, tzinfo=UTC)


def _line(hour: int, i: int) -> str:
    return LINE.format(f"{hour:02d}", i % 60, f"p{i}")


def _parse(spark, tmp_path, pattern="*", spec="combined"):
    files = list_files(spark, str(tmp_path / pattern))
    return parse_files(spark, files, spec)


def test_line_numbers_are_per_file_even_when_a_file_is_split_in_blocks(spark, tmp_path):
    lines = [_line(10, i) for i in range(3000)]
    bad_at = {5, 1234, 2999}  # 1-based line numbers of the lines we break
    for n in bad_at:
        lines[n - 1] = f"broken line {n}"
    (tmp_path / "big.log").write_text("\n".join(lines) + "\n")
    (tmp_path / "small.log").write_text(f"{_line(10, 1)}\nbroken line 2\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16k")  # big.log becomes ~25 blocks
    try:
        source = _parse(spark, tmp_path)
        bad = quarantine_of(spark, source).collect()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        source.unpersist()
    got = sorted((r.source_file.rsplit("/", 1)[1], r.line_no, r.line) for r in bad)
    assert got == sorted(
        [("big.log", n, f"broken line {n}") for n in bad_at] + [("small.log", 2, "broken line 2")]
    )
    big = next(a for a in source.accounts if a.source_file.endswith("big.log"))
    assert (big.read, big.parsed, big.quarantined) == (3000, 2997, 3)


def test_truncated_gz_is_read_up_to_the_damage_and_counted(spark, tmp_path):
    data = gzip.compress(("\n".join(_line(10, i) for i in range(20000)) + "\n").encode())
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 2])
    with gzip.open(tmp_path / "whole.log.gz", "wt") as fh:
        fh.write(_line(10, 1) + "\n")
    source = _parse(spark, tmp_path)
    try:
        bad = quarantine_of(spark, source).collect()
    finally:
        source.unpersist()
    cut = next(a for a in source.accounts if a.source_file.endswith("cut.log.gz"))
    whole = next(a for a in source.accounts if a.source_file.endswith("whole.log.gz"))
    assert cut.truncated and not whole.truncated
    assert 0 < cut.parsed < 20000
    assert cut.read == cut.parsed + cut.quarantined
    # The last readable line may be cut mid-way, so it can be quarantined itself.
    assert cut.reasons["truncated_file"] == 1
    assert [r.reason for r in bad if r.reason == "truncated_file"] == ["truncated_file"]
    assert (whole.read, whole.parsed) == (1, 1)


def test_bz2_empty_files_and_invalid_utf8(spark, tmp_path):
    (tmp_path / "a.log.bz2").write_bytes(bz2.compress((_line(10, 1) + "\n").encode()))
    (tmp_path / "empty.log").write_bytes(b"")
    raw = _line(10, 2).replace("curl/8", "curl/\xff\xfe8").encode("latin-1")
    (tmp_path / "latin.log").write_bytes(raw + b"\n\x00\n")
    source = _parse(spark, tmp_path)
    try:
        rows = source.lines.collect()
    finally:
        source.unpersist()
    by_file = {a.source_file.rsplit("/", 1)[1]: a for a in source.accounts}
    assert (by_file["a.log.bz2"].parsed, by_file["empty.log"].read) == (1, 0)
    assert (by_file["latin.log"].parsed, by_file["latin.log"].quarantined) == (1, 1)
    [agent] = [r.user_agent for r in rows if r.user_agent and r.user_agent.startswith("curl/")
               and "8" in r.user_agent and r.source_file.endswith("latin.log")]  # fmt: skip
    assert agent == "curl/\ufffd\ufffd8"


def _usecase(tmp_path, path, policy="keep", fmt="combined"):
    source = {"path": path, "format": fmt, "out_of_window": policy}
    return usecase_yaml(
        tmp_path, "src_test", source=source, start_date=date(2024, 3, 1), schedule="0 * * * *"
    )


def _ingest(tmp_path, cfg, start="2024-03-05T10:00:00Z", end="2024-03-05T11:00:00Z"):
    root = str(tmp_path / "lake")
    assert ingest.main(stage_args(cfg, start, end, root)) == 0
    return root


def _landing(tmp_path):
    """An hourly landing folder as a shipper writes it: the 11:00 file holds a line of 10:00
    that arrived late and one of 11:00."""
    for hour, lines in (
        (10, [_line(10, i) for i in range(3)]),
        (11, [_line(10, 59), _line(11, 0)]),
    ):
        folder = tmp_path / "landing" / "2024" / "03" / "05"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"access-{hour:02d}.log").write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(("policy", "parsed"), [("keep", 4), ("drop", 4), ("include", 5)])
def test_out_of_window_policies(spark, tmp_path, policy, parsed):
    _landing(tmp_path)
    # this hour's file and the next one, where late lines of this hour land
    path = str(tmp_path / "landing") + "/{start:%Y/%m/%d}/access-{{start:%H},{end:%H}}.log"
    cfg = _usecase(tmp_path, path, policy)
    root = _ingest(tmp_path, cfg)
    record = run_record(spark, root, "src_test", START, "ingest")
    assert record["read"] == 5
    assert record["parsed"] == parsed
    assert record["read"] == record["parsed"] + record["quarantined"] + record["out_of_window"]
    if policy != "include":
        # the 11:00 line stays in the store, where the 11:00 run selects it
        _ingest(tmp_path, cfg, "2024-03-05T11:00:00Z", "2024-03-05T12:00:00Z")
        eleven = run_record(spark, root, "src_test", START.replace(hour=11), "ingest")
        assert (eleven["read"], eleven["parsed"], eleven["out_of_window"]) == (2, 1, 1)


def test_hour_placeholder_reads_every_hour_of_a_daily_interval(spark, tmp_path):
    _landing(tmp_path)
    path = str(tmp_path / "landing") + "/{hour:%Y/%m/%d}/access-{hour:%H}.log"
    usecase = load_usecase(_usecase(tmp_path, path))
    day = (datetime(2024, 3, 5, tzinfo=UTC), datetime(2024, 3, 6, tzinfo=UTC))
    globs = usecase.source_globs(*day)
    assert len(globs) == 24 and globs[10].endswith("/2024/03/05/access-10.log")
    root = _ingest(
        tmp_path, _usecase(tmp_path, path), "2024-03-05T00:00:00Z", "2024-03-06T00:00:00Z"
    )
    record = run_record(spark, root, "src_test", day[0], "ingest")
    assert (record["read"], record["parsed"], len(record["files"])) == (5, 5, 2)


def test_auto_format_is_reported_in_the_run_record(spark, tmp_path):
    (tmp_path / "a.log").write_text("vh:80 " + _line(10, 1) + "\n")
    root = _ingest(tmp_path, _usecase(tmp_path, tmp_path / "a.log", fmt="auto"))
    record = run_record(spark, root, "src_test", START, "ingest")
    assert record["format"] == "vhost_combined"
    assert record["format_detection"]["shares"]["vhost_combined"] == 1.0
    assert record["parsed"] == 1
