"""``botwatch feedback``: alert ids, labels files, verdict files; and one run through the stages."""

from __future__ import annotations

import importlib
import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from spark_jobs.alerting import feedback, feedback_cli
from spark_jobs.alerting.feedback import AlertIndex, FeedbackError
from spark_jobs.cli import main as botwatch
from spark_jobs.lake import layout, storage
from spark_jobs.stage import SPARK_STAGES
from tests.support.builders import run_record, stage_args, usecase_yaml
from tests.support.paths import SAMPLE_LOG

USE_CASE = "fb_uc"
DAY = datetime(2015, 5, 17, tzinfo=UTC)
#: Two ids share their first 10 characters, so 8 of them are ambiguous and 12 are not.
IDS = ["abcdef0123" + "4" * 54, "abcdef0123" + "5" * 54, "0f" * 32]


def _alert(alert_id: str, entity: str, start: datetime = DAY) -> dict:
    return {
        "alert_id": alert_id, "use_case": USE_CASE, "status": "raised", "entity": entity,
        "entity_key": "client", "client": entity, "user_agent": "curl/8", "session": f"{entity}#0",
        "interval_start": layout.iso_utc(start), "score": 99.5, "model_version": "m1",
        "interval_end": layout.iso_utc(start + timedelta(days=1)),
    }  # fmt: skip


def _write_alerts(lake, alerts: list[dict], start: datetime = DAY) -> None:
    """An alerts partition as the alert stage leaves it (Parquet part file and ``_SUCCESS``)."""
    folder = lake / "alerts" / f"use_case={USE_CASE}" / f"interval={layout.interval_key(start)}"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(alerts), folder / "part-00000.snappy.parquet")
    (folder / "_SUCCESS").write_text("")


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    _write_alerts(root, [_alert(IDS[0], "10.0.0.1"), _alert(IDS[1], "10.0.0.2")])
    _write_alerts(root, [_alert(IDS[2], "10.0.0.3", DAY + timedelta(days=1))], DAY + timedelta(1))
    return root


@pytest.fixture
def config(tmp_path):
    return str(usecase_yaml(tmp_path, USE_CASE))


def _feedback(config, lake, *args: str) -> int:
    return botwatch(["feedback", "--config", config, "--lake", str(lake), *args])


def _verdict_file(lake, alert_id: str):
    return lake / "feedback" / f"use_case={USE_CASE}" / f"{alert_id}.json"


def test_alerts_are_read_from_every_partition_without_spark(lake):
    alerts = feedback.read_alerts(str(lake), USE_CASE)
    assert sorted(a["alert_id"] for a in alerts) == sorted(IDS)
    assert feedback.read_alerts(str(lake), "other_case") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abcdef01", "alert id abcdef01 is ambiguous: 2 alerts start with it"),
        ("abcd", "is not an alert id: give its sha256 or its first 8 or more"),
        ("not-hex-at-all", "is not an alert id"),
        ("ffffffffffff", "no alert ffffffffffff among the 3 alert record(s) of use case fb_uc"),
    ],
)
def test_a_bad_alert_id_is_a_clear_error(lake, text, message):
    index = AlertIndex(USE_CASE, feedback.read_alerts(str(lake), USE_CASE))
    with pytest.raises(FeedbackError) as exc:
        index.resolve(text)
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_an_alert_is_found_by_its_full_id_or_a_unique_prefix(lake):
    index = AlertIndex(USE_CASE, feedback.read_alerts(str(lake), USE_CASE))
    assert index.resolve(IDS[0])["entity"] == "10.0.0.1"
    assert index.resolve(IDS[1][:12].upper())["entity"] == "10.0.0.2"
    assert index.resolve(" 0f0f0f0f ")["entity"] == "10.0.0.3"


def test_a_verdict_is_stored_with_its_alert_and_a_rerun_changes_nothing(config, lake, capsys):
    args = (IDS[0][:12], "--false-positive", "--reason", "our  uptime monitor", "--analyst", "ann")
    assert _feedback(config, lake, *args, "--until", "2015-06-30") == 0
    assert capsys.readouterr().out.startswith(f"recorded: {IDS[0][:12]} false_positive for 10.0.")
    path = _verdict_file(lake, IDS[0])
    record = json.loads(path.read_text())
    assert record | {"recorded_at": "-"} == {
        **{k: v for k, v in _alert(IDS[0], "10.0.0.1").items() if k != "status"},
        "verdict": "false_positive", "reason": "our uptime monitor", "until": "2015-06-30",
        "analyst": "ann", "recorded_at": "-",
    }  # fmt: skip
    before = path.stat().st_mtime_ns
    assert _feedback(config, lake, *args, "--until", "2015-06-30") == 0
    assert capsys.readouterr().out.startswith("unchanged: ")
    assert path.stat().st_mtime_ns == before and json.loads(path.read_text()) == record


def test_a_changed_verdict_replaces_the_old_one_and_says_so(config, lake, capsys):
    assert _feedback(config, lake, IDS[2][:8], "--false-positive", "--reason", "looked ok") == 0
    assert _feedback(config, lake, IDS[2], "--true-positive", "--reason", "it is a scraper") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith(f"replaced: {IDS[2][:12]} true_positive for 10.0.0.3")
    assert "(was false_positive: looked ok)" in out[1]
    record = json.loads(_verdict_file(lake, IDS[2]).read_text())
    assert (record["verdict"], record["reason"], record["until"]) == (
        "true_positive", "it is a scraper", None,
    )  # fmt: skip
    assert sorted(p.name for p in _verdict_file(lake, IDS[2]).parent.iterdir()) == [
        f"{IDS[2]}.json"
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["abcdef01", "--false-positive", "--reason", "x"], "is ambiguous"),
        (["deadbeefdead", "--true-positive", "--reason", "x"], "no alert deadbeefdead among"),
        (
            [IDS[0][:12], "--true-positive", "--reason", "x", "--until", "2015-06-01"],
            "until applies to false positives only",
        ),
        (
            [IDS[0][:12], "--false-positive", "--reason", "x", "--until", "2015-05-01"],
            "until 2015-05-01 is before the alerted interval (2015-05-17)",
        ),
    ],
)
def test_a_bad_verdict_exits_2_with_one_line_and_writes_nothing(
    config, lake, capsys, args, message
):
    assert _feedback(config, lake, *args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and err.startswith("botwatch feedback: ")
    assert not (lake / "feedback").exists()


def test_usage_errors(config, lake, capsys):
    with pytest.raises(SystemExit) as exc:
        _feedback(config, lake, IDS[0][:12], "--reason", "no verdict given")
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        _feedback(config, lake, IDS[0][:12], "--list")
    assert "give one of ALERT_ID, --file or --list" in capsys.readouterr().err


def _labels(tmp_path, text: str) -> str:
    path = tmp_path / "verdicts.csv"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_a_labels_file_records_every_line_and_is_listed(config, lake, tmp_path, capsys):
    path = _labels(tmp_path, "\ufeffalert_id,verdict,reason,until,analyst\n"
                   f"# checked on 2015-05-19\n{IDS[0][:12]},false_positive,monitor,,bob\n\n"
                   f'{IDS[2]},True-Positive,"scraped 4,000 pages",,\n')  # fmt: skip
    assert _feedback(config, lake, "--file", path, "--analyst", "eve") == 0
    assert capsys.readouterr().out.count("recorded: ") == 2
    assert json.loads(_verdict_file(lake, IDS[0]).read_text())["analyst"] == "bob"
    assert json.loads(_verdict_file(lake, IDS[2]).read_text())["analyst"] == "eve"
    assert _feedback(config, lake, "--file", path, "--analyst", "eve") == 0
    assert capsys.readouterr().out.count("unchanged: ") == 2
    assert _feedback(config, lake, "--list") == 0
    listed = capsys.readouterr().out.splitlines()
    assert listed[0].startswith(f"{IDS[0][:12]} false_positive ") and "by bob" in listed[0]
    assert "scraped 4,000 pages" in listed[1]
    assert listed[-1] == "2 verdict(s) for fb_uc: 1 false positive, 1 true positive"


def test_a_bad_labels_file_names_each_bad_line_and_records_nothing(config, lake, tmp_path, capsys):
    path = _labels(tmp_path, "alert_id,verdict,reason,until\n"
                   f"{IDS[0][:12]},false_positive,fine,\n"  # good, but not written
                   "abcdef01,false_positive,ambiguous,\n"
                   f"{IDS[2]},maybe,unsure,\n"
                   f"{IDS[2]},false_positive,  ,\n"
                   f"{IDS[2]},false_positive,bad day,2015-13-01\n"
                   f"{IDS[0]},true_positive,again,\n"
                   "too,few\n")  # fmt: skip
    assert _feedback(config, lake, "--file", path) == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{path}:3: alert id abcdef01 is ambiguous: 2 alerts start with it "
        "(abcdef012344, abcdef012355); give more characters",
        f"{path}:4: verdict 'maybe': use false_positive or true_positive",
        f"{path}:5: reason is empty: say why (it is shown on every suppression)",
        f"{path}:6: until '2015-13-01' is not a date (YYYY-MM-DD)",
        f"{path}:7: alert {IDS[0][:12]} already has a verdict on line 2",
        f"{path}:8: 2 field(s), the header has 4",
    ]
    assert not (lake / "feedback").exists()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", ":1: empty file"),
        ("# verdicts of May\nalert_id,verdict\n", ":2: missing column(s) reason"),
        ("alert_id,verdict,reason,score\n", ":1: unknown column(s) score"),
    ],
)
def test_a_labels_file_needs_its_header(config, lake, tmp_path, capsys, text, message):
    assert _feedback(config, lake, "--file", _labels(tmp_path, text)) == 2
    assert message in capsys.readouterr().err


def test_verdict_files_are_replaced_through_a_unique_temporary_file(lake, monkeypatch):
    alert = _alert(IDS[0], "10.0.0.1")
    moves, real_rename = [], storage.rename
    monkeypatch.setattr(storage, "rename", lambda s, a, b: (moves.append(a), real_rename(s, a, b)))
    for verdict in ("false_positive", "true_positive"):
        given = feedback.VerdictInput(alert, verdict, "why", "ann")
        feedback.write_record(None, str(lake), USE_CASE, feedback.verdict_record(given, "now"))
    folder = feedback.folder(str(lake), USE_CASE)
    assert len(set(moves)) == 2 and all(m.startswith(f"{folder}/.") for m in moves)
    assert all(m.endswith(".tmp") for m in moves)

    def broken(spark, source, target):
        raise OSError("disk full")

    monkeypatch.setattr(storage, "rename", broken)
    given = feedback.VerdictInput(alert, "false_positive", "changed", "ann")
    with pytest.raises(OSError, match="disk full"):
        feedback.write_record(None, str(lake), USE_CASE, feedback.verdict_record(given, "later"))
    assert storage.list_names(None, folder) == [f"{IDS[0]}.json"]  # no temp file left behind
    assert feedback.read_records(None, str(lake), USE_CASE)[0]["verdict"] == "true_positive"


def test_verdicts_load_for_the_stages_and_unreadable_files_are_skipped(lake, caplog):
    given = feedback.VerdictInput(_alert(IDS[0], "10.0.0.1"), "false_positive", "ok", "ann",
                                  date(2015, 6, 1))  # fmt: skip
    feedback.write_record(None, str(lake), USE_CASE, feedback.verdict_record(given, "now"))
    folder = lake / "feedback" / f"use_case={USE_CASE}"
    (folder / "broken.json").write_text("{not json")
    (folder / f".{IDS[1]}.x.tmp").write_text("{}")
    [verdict] = feedback.load_verdicts(None, str(lake), USE_CASE)
    assert (verdict.entity, verdict.verdict, verdict.until, verdict.session) == (
        "10.0.0.1", "false_positive", date(2015, 6, 1), "10.0.0.1#0",
    )  # fmt: skip
    assert verdict.interval_start == DAY and verdict.interval_end == DAY + timedelta(days=1)
    assert "broken.json is unreadable" in caplog.text
    fields = feedback.record_fields(None, str(lake), USE_CASE, [
        {"entity": "10.0.0.1", "suppression": "verdict: false positive (analyst ann, ...): ok"},
        {"entity": "10.0.0.9", "suppression": "realert: alerted for ..."},
    ])  # fmt: skip
    assert fields == {"verdicts": {
        "suppressed": 1, "suppressions": ["10.0.0.1: verdict: false positive (analyst ann, ...): ok"],
        "recorded": {"false_positive": 1, "true_positive": 0},
    }}  # fmt: skip


def test_the_default_analyst_is_the_user(monkeypatch):
    monkeypatch.setattr(feedback_cli.getpass, "getuser", lambda: "carol")
    assert feedback_cli.default_analyst() == "carol"

    def nobody():
        raise OSError("no user")

    monkeypatch.setattr(feedback_cli.getpass, "getuser", nobody)
    assert feedback_cli.default_analyst() == "unknown"


def _run_stages(config, lake, start: datetime, stages) -> None:
    for stage in stages:
        module = importlib.import_module(f"spark_jobs.{stage}")
        assert module.main(stage_args(config, start, start + timedelta(days=1), lake)) == 0, stage


def _raised(spark, lake, start: datetime) -> dict[str, dict]:
    path = layout.partition_path(str(lake), "alerts", USE_CASE, start)
    return {r["entity"]: r.asDict() for r in spark.read.parquet(path).collect()
            if r["status"] == "raised"}  # fmt: skip


@pytest.mark.spark
def test_a_false_positive_quiets_the_entity_next_day_and_labels_training(spark, tmp_path, capsys):
    """Real stages on the sample: an alert of 2015-05-17 marked false positive (through the
    ``botwatch`` command) suppresses its entity on 2015-05-18 with the verdict's reason, and
    the fit for 2015-05-18 (``fit_on: human``: kept in the human set) counts its sessions."""
    config = usecase_yaml(
        tmp_path, USE_CASE, source={"path": str(SAMPLE_LOG), "out_of_window": "drop"},
        features=["requests", "distinct_path_ratio", "head_share", "robots_txt", "iat_mean"],
        model={"kind": "unsupervised", "members": ["robust_z"], "fit_on": "human",
               "training_window_days": 2, "retrain_every_days": 0},
        threshold=90, alert={"min_requests": 5, "max_alerts": 50, "realert_minutes": 0},
    )  # fmt: skip
    lake, first, second = tmp_path / "lake", DAY, DAY + timedelta(days=1)
    _run_stages(config, lake, first, SPARK_STAGES)
    _run_stages(config, lake, second, SPARK_STAGES)
    # An entity raised on both days (realert_minutes 0: nothing but a verdict quiets it).
    both, on_first = _raised(spark, lake, second), _raised(spark, lake, first)
    entity = max((e for e in on_first if e in both), key=lambda e: both[e]["score"])
    alert_id = on_first[entity]["alert_id"]
    code = botwatch(["feedback", "--config", str(config), "--lake", str(lake), alert_id[:12],
                     "--false-positive", "--reason", "partner's price checker", "--analyst", "ann"])  # fmt: skip
    assert code == 0 and "recorded: " in capsys.readouterr().out
    _run_stages(config, lake, second, ("train", "score", "alert"))

    rows = spark.read.parquet(layout.partition_path(str(lake), "alerts", USE_CASE, second))
    [mine] = [r for r in rows.collect() if r["entity"] == entity]
    assert mine["status"] == "suppressed"
    assert mine["suppression"] == (
        f"verdict: false positive (analyst ann, alert {alert_id[:12]}): partner's price checker"
    )
    record = run_record(spark, lake, USE_CASE, second, "alert")
    assert record["verdicts"]["suppressed"] == 1
    assert record["verdicts"]["recorded"] == {"false_positive": 1, "true_positive": 0}
    train = run_record(spark, lake, USE_CASE, second, "train")
    assert train["verdict_labels"]["false_positive"] >= 1
    assert train["verdict_labels"]["true_positive"] == 0
    report = (lake / "reports" / f"use_case={USE_CASE}" /
              f"interval={layout.interval_key(second)}" / "report.html").read_text()  # fmt: skip
    assert "partner&#39;s price checker" in report and "suppressed by verdict" in report
