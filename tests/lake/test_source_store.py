"""The source store's names, manifest entries and the rules for taking a file again."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from spark_jobs.lake import source_store, storage
from spark_jobs.lake.source_store import FileEntry, SourceStore


def _entry(path: str, **fields) -> FileEntry:
    base = dict(
        path=path, size=10, mtime_ms=1000, digest="d", take="t1", format="combined",
        read=5, parsed=3, quarantined=2, days={"2015-05-17": 1, "2015-05-18": 2},
        blocks=[[0, 0, 1]],
    )  # fmt: skip
    return FileEntry(**{**base, **fields})


def test_use_cases_share_a_store_exactly_when_lines_parse_alike():
    name = source_store.store_name("combined", "UTC", {})
    assert name.startswith("combined-")
    assert source_store.store_name("combined", "UTC", {}) == name
    assert source_store.store_name("common", "UTC", {}) != name
    assert source_store.store_name("combined", "Europe/Berlin", {}) != name
    assert source_store.store_name("json", "UTC", {"client": ["ip"]}) != (
        source_store.store_name("json", "UTC", {})
    )
    custom = source_store.store_name('%h %l %u %t "%r" %>s %b', "UTC", {})
    assert custom.split("-")[0] == "h_l_u_t_r_s_b"


def test_file_ids_are_short_stable_and_distinct():
    assert len(source_store.file_id("file:/logs/a.log")) == 16
    assert source_store.file_id("file:/logs/a.log") == source_store.file_id("file:/logs/a.log")
    assert source_store.file_id("file:/logs/a.log") != source_store.file_id("file:/logs/b.log")


def test_utc_days_of_intervals():
    day = datetime(2015, 5, 17, tzinfo=UTC)
    assert source_store.utc_days(day, day.replace(day=18)) == ["2015-05-17"]
    assert source_store.utc_days(day.replace(hour=22), day.replace(day=18, hour=2)) == [
        "2015-05-17",
        "2015-05-18",
    ]
    assert source_store.utc_days(day, day.replace(day=20)) == [
        "2015-05-17", "2015-05-18", "2015-05-19",
    ]  # fmt: skip


def test_an_entry_is_committed_and_read_back(tmp_path):
    store = SourceStore.of(str(tmp_path), "combined", "UTC", {})
    path = "file:/logs/a.log"
    assert store.entry(None, path) is None
    store.commit(None, _entry(path))
    assert store.entry(None, path) == _entry(path)
    assert not list((tmp_path / "sources").rglob("*.tmp"))


def test_an_unreadable_entry_means_take_it_again(tmp_path):
    store = SourceStore.of(str(tmp_path), "combined", "UTC", {})
    path = "file:/logs/a.log"
    storage.write_text(None, store.manifest_path(path), '{"path": "file:/logs/a.log", "si')
    assert store.entry(None, path) is None


def test_an_entry_is_current_while_size_and_bytes_are_the_same(tmp_path):
    log = tmp_path / "a.log"
    log.write_bytes(b"x" * 100)
    stat = storage.stat(None, str(log))
    store = SourceStore.of(str(tmp_path), "combined", "UTC", {})
    digest = storage.digest(None, str(log), stat.size)
    entry = _entry(str(log), size=100, mtime_ms=stat.mtime_ms, digest=digest)
    assert store.is_current(None, entry, stat)
    os.utime(log, (1, 1))  # touched: the mtime moved, the bytes did not
    assert store.is_current(None, entry, storage.stat(None, str(log)))
    log.write_bytes(b"y" * 100)  # rewritten, same size
    os.utime(log, (5, 5))
    assert not store.is_current(None, entry, storage.stat(None, str(log)))
    log.write_bytes(b"x" * 101)
    assert not store.is_current(None, entry, storage.stat(None, str(log)))
    assert not store.is_current(None, None, stat)


def test_digest_reads_both_ends_of_a_big_file(tmp_path):
    big = tmp_path / "big.log"
    size = storage.DIGEST_BYTES * 3
    big.write_bytes(b"a" * size)
    before = storage.digest(None, str(big), size)
    with big.open("r+b") as fh:
        fh.seek(size - 1)
        fh.write(b"b")
    assert storage.digest(None, str(big), size) != before


def test_folders_named_by_an_entry(tmp_path):
    store = SourceStore(f"{tmp_path}/sources/s")
    entry = _entry("file:/logs/a.log")
    base = f"{tmp_path}/sources/s/takes/t1/file_id={source_store.file_id('file:/logs/a.log')}"
    assert store.parsed_folders(entry, ["2015-05-18", "2015-05-19"]) == [
        f"{base}/outcome=parsed/month=2015-05"
    ]
    assert store.parsed_folders(entry, ["2015-06-01"]) == []  # the file has no line that day
    june = entry.model_copy(update={"days": {**entry.days, "2015-06-01": 4}})
    assert store.parsed_folders(june, None) == [
        f"{base}/outcome=parsed/month=2015-05",
        f"{base}/outcome=parsed/month=2015-06",
    ]
    assert store.quarantine_folders(entry) == [
        f"{base}/outcome=quarantine/month=__HIVE_DEFAULT_PARTITION__"
    ]
    # a truncated file's one quarantined "line" is its unreadable tail, not a stored row
    assert (
        store.quarantine_folders(entry.model_copy(update={"quarantined": 1, "truncated": True}))
        == []
    )
    assert not entry.lost_or_double()
