"""Side files and listings through pyarrow.fs: no JVM, so the same on classic and Connect."""

from __future__ import annotations

import pytest

from spark_jobs.lake import storage


@pytest.fixture
def tree(tmp_path):
    for name in ["a/2015-05.log", "a/2015-06.log.gz", "b/2015-05.log", "a/sub/2015-05.log"]:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
    return tmp_path


def _names(stats, root):
    return [s.path.removeprefix(str(root) + "/") for s in stats]


def test_a_star_stays_inside_one_path_segment(tree):
    assert _names(storage.glob(None, f"{tree}/a/*.log"), tree) == ["a/2015-05.log"]
    assert _names(storage.glob(None, f"{tree}/*/2015-05.log"), tree) == ["a/2015-05.log", "b/2015-05.log"]


def test_braces_expand_as_in_hadoop_globs(tree):
    found = storage.glob(None, f"{tree}/{{a,b}}/2015-0[56].log*")
    assert _names(found, tree) == ["a/2015-05.log", "a/2015-06.log.gz", "b/2015-05.log"]
    assert storage.expand_braces("x{1,2}y{a,b}") == ["x1ya", "x1yb", "x2ya", "x2yb"]


def test_glob_gives_size_mtime_and_kind_and_keeps_the_file_scheme(tree):
    (stat,) = storage.glob(None, f"file:{tree}/b/*.log")
    assert stat.path == f"file:{tree}/b/2015-05.log"
    assert (stat.size, stat.is_file) == (2, True)
    assert stat.mtime_ms == int((tree / "b/2015-05.log").stat().st_mtime * 1000)
    (folder,) = storage.glob(None, f"{tree}/a/su?")
    assert not folder.is_file


def test_glob_of_nothing_is_empty(tree):
    assert storage.glob(None, f"{tree}/nowhere/*.log") == []
    assert storage.glob(None, f"{tree}/a/none.log") == []


def test_json_round_trip_makes_folders_and_replaces(tmp_path):
    path = f"{tmp_path}/runs/use_case=x/interval=1/ingest.json"
    storage.write_json(None, path, {"read": 1})
    storage.write_json(None, path, {"read": 2})
    assert storage.exists(None, path)
    assert storage.read_json(None, path) == {"read": 2}


def test_list_partitions_and_names(tmp_path):
    root = str(tmp_path)
    for key in ["20150518T000000Z", "20150517T000000Z"]:
        storage.write_text(None, f"{root}/scores/use_case=u/interval={key}/part.parquet", "")
    storage.write_text(None, f"{root}/scores/use_case=u/_SUCCESS", "")
    assert storage.list_partitions(None, root, "scores", "u") == [
        "20150517T000000Z",
        "20150518T000000Z",
    ]
    assert storage.list_partitions(None, root, "alerts", "u") == []
    assert storage.list_names(None, f"{root}/scores/use_case=u")[0] == "_SUCCESS"


def test_delete_removes_files_and_folders_and_ignores_missing(tmp_path):
    storage.write_text(None, f"{tmp_path}/d/f.txt", "x")
    storage.delete(None, f"{tmp_path}/d")
    storage.delete(None, f"{tmp_path}/d")
    assert not storage.exists(None, f"{tmp_path}/d")


def test_the_text_store_replaces_a_file_by_rename(tmp_path):
    store = storage.LakeTextStore(None)
    path = f"{tmp_path}/outbox/alerts.jsonl"
    assert store.read_text(path) is None
    store.write_text(path, "one\n")
    store.write_text(path, "two\n")
    assert store.read_text(path) == "two\n"
    assert store.list_names(f"{tmp_path}/outbox") == ["alerts.jsonl"]


def test_s3a_paths_are_read_with_the_s3_file_system_and_the_s3a_settings():
    class Conf:
        def get(self, key, default=None):
            return {"spark.hadoop.fs.s3a.endpoint": "http://127.0.0.1:9000"}.get(key, default)

    class Session:
        conf = Conf()

    fs, inner, prefix = storage.filesystem(Session(), "s3a://lake/runs/x.json")
    assert (fs.type_name, inner, prefix) == ("s3", "lake/runs/x.json", "s3a://")
