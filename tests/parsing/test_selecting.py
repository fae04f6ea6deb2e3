"""Which files a run takes into the store, and what it selects from it."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from spark_jobs.config.source import SourceConfig
from spark_jobs.lake.source_store import SourceStore
from spark_jobs.parsing import selecting
from spark_jobs.parsing.sources import list_file_stats

LINE = '1.2.3.4 - - [{day}/May/2015:10:00:00 +0000] "GET /{path} HTTP/1.1" 200 5 "-" "x"'


def _write(path, *days_and_paths):
    path.write_text("".join(LINE.format(day=d, path=p) + "\n" for d, p in days_and_paths))


def _ensure(spark, tmp_path):
    store = SourceStore.of(str(tmp_path / "lake"), "combined", "UTC", {})
    pattern = str(tmp_path / "*.log")
    source = SourceConfig(path=pattern, format="combined")
    return store, selecting.ensure_taken(spark, store, list_file_stats(spark, pattern), source)


def _takes(tmp_path):
    return sorted(p.name for p in (tmp_path / "lake" / "sources").glob("*/takes/*"))


def test_unchanged_and_touched_files_are_not_taken_again(spark, tmp_path):
    _write(tmp_path / "a.log", (17, "a"))
    _, [first] = _ensure(spark, tmp_path)
    _, [again] = _ensure(spark, tmp_path)
    assert again == first
    os.utime(tmp_path / "a.log", (1, 1))  # a copy or a touch: new mtime, same bytes
    store, [touched] = _ensure(spark, tmp_path)
    assert touched.take == first.take and touched.mtime_ms == 1000
    assert store.entry(spark, first.path).mtime_ms == 1000
    assert len(_takes(tmp_path)) == 1


def test_a_changed_file_is_taken_again_and_its_old_lines_go(spark, tmp_path):
    _write(tmp_path / "a.log", (17, "a"))
    _write(tmp_path / "b.log", (17, "b"))
    store, entries = _ensure(spark, tmp_path)
    _write(tmp_path / "a.log", (17, "a"), (18, "late"))  # the file grew
    store, [a, b] = _ensure(spark, tmp_path)
    assert a.take != entries[0].take and b == entries[1]
    assert (a.read, a.days) == (2, {"2015-05-17": 1, "2015-05-18": 1})
    rows = selecting.parsed_lines(spark, store, [a, b], None).collect()
    assert sorted(r.path for r in rows) == ["/a", "/b", "/late"]  # /a once: the old take is gone


def test_a_take_no_entry_names_is_never_read(spark, tmp_path):
    _write(tmp_path / "a.log", (17, "a"))
    store, [entry] = _ensure(spark, tmp_path)
    # what a run killed while writing its take leaves behind
    orphan = tmp_path / "lake" / "sources" / store.root.rsplit("/", 1)[1] / "takes" / "dead"
    (orphan / "file_id=x" / "outcome=parsed" / "month=2015-05").mkdir(parents=True)
    _, [again] = _ensure(spark, tmp_path)
    assert again == entry
    rows = selecting.parsed_lines(spark, store, [again], None).collect()
    assert [r.path for r in rows] == ["/a"]


def test_a_window_selects_only_its_lines_and_counts_the_rest(spark, tmp_path):
    _write(tmp_path / "a.log", (17, "x"), (18, "y"), (18, "z"), (19, "w"))
    store, entries = _ensure(spark, tmp_path)
    window = (datetime(2015, 5, 18, tzinfo=UTC), datetime(2015, 5, 19, tzinfo=UTC))
    rows = selecting.parsed_lines(spark, store, entries, window).collect()
    assert sorted(r.path for r in rows) == ["/y", "/z"]
    [counts] = selecting.file_counts(entries, {entries[0].path: 2})
    assert (counts.read, counts.parsed, counts.out_of_window, counts.quarantined) == (4, 2, 2, 0)
