"""Taking files into the source store: one pass, exact counts, line numbers, damaged files."""

from __future__ import annotations

import gzip

from spark_jobs.config.source import SourceConfig
from spark_jobs.lake import storage
from spark_jobs.lake.source_store import SourceStore, file_id
from spark_jobs.parsing.selecting import quarantined_lines
from spark_jobs.parsing.sources import list_file_stats
from spark_jobs.parsing.taking import take_files

LINE = '1.2.3.4 - - [{day:02d}/May/2015:10:00:{s:02d} +0000] "GET /p{i} HTTP/1.1" 200 5 "-" "x"'


def _line(i: int, day: int = 17) -> str:
    return LINE.format(day=day, s=i % 60, i=i)


def _take(spark, tmp_path, pattern="*.log*"):
    store = SourceStore.of(str(tmp_path / "lake"), "combined", "UTC", {})
    stats = list_file_stats(spark, str(tmp_path / pattern))
    digests = {s.path: storage.digest(spark, s.path, s.size) for s in stats}
    source = SourceConfig(path=str(tmp_path / pattern), format="combined")
    return store, take_files(spark, store, stats, digests, source)


def test_a_take_counts_every_line_by_outcome_and_day(spark, tmp_path):
    lines = [_line(i, day=17 + i % 2) for i in range(10)] + ["garbage", ""]
    (tmp_path / "a.log").write_text("\n".join(lines) + "\n")
    with gzip.open(tmp_path / "b.log.gz", "wt") as fh:
        fh.write(_line(1) + "\n")

    store, entries = _take(spark, tmp_path)

    by_name = {e.path.rsplit("/", 1)[1]: e for e in entries}
    a, b = by_name["a.log"], by_name["b.log.gz"]
    assert (a.read, a.parsed, a.quarantined) == (12, 10, 2)
    assert a.reasons == {"no_match": 1, "empty": 1}
    assert a.days == {"2015-05-17": 5, "2015-05-18": 5}
    assert (b.read, b.parsed, b.days) == (1, 1, {"2015-05-17": 1})
    assert a.take == b.take and a.format == "combined"
    # the folders are named as the manifest says, and committed entries read back
    for entry in entries:
        assert (tmp_path / "lake").joinpath(
            store.file_folder(entry).split("/lake/", 1)[1]
        ).name == f"file_id={file_id(entry.path)}"
        assert store.entry(spark, entry.path) == entry


def test_quarantined_lines_get_their_line_numbers_across_blocks(spark, tmp_path):
    lines = [_line(i) for i in range(3000)]
    bad_at = {5, 1234, 2999}
    for n in bad_at:
        lines[n - 1] = f"broken line {n}"
    (tmp_path / "big.log").write_text("\n".join(lines) + "\n")
    spark.conf.set("spark.sql.files.maxPartitionBytes", "16k")  # big.log becomes ~25 blocks
    try:
        store, entries = _take(spark, tmp_path)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    [entry] = entries
    assert len(entry.blocks) > 10
    got = sorted(
        (r.line_no, r.line, r.reason) for r in quarantined_lines(spark, store, entries).collect()
    )
    assert got == [(n, f"broken line {n}", "no_match") for n in sorted(bad_at)]
    assert (entry.read, entry.parsed, entry.quarantined) == (3000, 2997, 3)


def test_a_truncated_gz_is_taken_up_to_the_damage(spark, tmp_path):
    data = gzip.compress(("\n".join(_line(i) for i in range(20000)) + "\n").encode())
    (tmp_path / "cut.log.gz").write_bytes(data[: len(data) // 2])
    with gzip.open(tmp_path / "whole.log.gz", "wt") as fh:
        fh.write(_line(1) + "\n")

    store, entries = _take(spark, tmp_path)

    by_name = {e.path.rsplit("/", 1)[1]: e for e in entries}
    cut, whole = by_name["cut.log.gz"], by_name["whole.log.gz"]
    assert cut.truncated and not whole.truncated
    assert 0 < cut.parsed < 20000 and not cut.lost_or_double()
    assert cut.reasons["truncated_file"] == 1
    tails = [
        r
        for r in quarantined_lines(spark, store, entries).collect()
        if r.reason == "truncated_file"
    ]
    assert [(r.source_file, r.line_no) for r in tails] == [(cut.path, cut.read)]
    assert (whole.read, whole.parsed) == (1, 1)
    # only the one take that succeeded is left in the store
    assert len(list((tmp_path / "lake" / "sources").glob("*/takes/*"))) == 1
