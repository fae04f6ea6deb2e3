"""``botwatch check``: what the DAG parse rejects, plus what only shows once a run starts."""

from __future__ import annotations

import shutil

import pytest

from spark_jobs.config.checks import check_file, check_paths
from tests.support.builders import usecase_yaml
from tests.support.paths import BAD_CONFIGS, REPO, SAMPLE_LOG

BAD = BAD_CONFIGS
COMBINED = '1.2.3.4 - - [17/May/2015:10:05:{s:02d} +0000] "GET /p{s} HTTP/1.1" 200 12 "-" "ua"'


@pytest.fixture(autouse=True)
def _plain_env(monkeypatch):
    for name in ("BOTWATCH_LOGS", "BOTWATCH_TEST_UNSET_LOGS", "BOTWATCH_LAKE", "SLACK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOTWATCH_HOME", str(REPO))


def _lines(path) -> list[str]:
    return check_file(path).lines()


#: The fixtures that load (the DAG would be built) but fail or warn here: (stem, level, key,
#: reason). ``{sample}`` is the sample log's path.
CHECK_ONLY = [
    ("unset_env", "error", "source.path", "environment variable BOTWATCH_TEST_UNSET_LOGS is "
     "not set and has no default; export it or write ${BOTWATCH_TEST_UNSET_LOGS:-fallback}"),
    ("unknown_placeholder", "error", "source.path", "unknown placeholder {begin:%Y-%m}; did "
     "you mean {start:%Y-%m}? known: {start:FORMAT}, {end:FORMAT}, {hour:FORMAT}, {day:FORMAT}"),
    ("unknown_date_code", "error", "source.path", "unknown date code %Q in {start:%Y-%Q}; use "
     "%Y %m %d %H %M (year, month, day, hour, minute)..."),
    ("no_files", "warning", "source.path", f"no file matches {REPO}/tests/fixtures/logs/"
     "nowhere/*.log.gz today; ingest fails while none does"),
    ("wrong_format", "error", "source.format", "none of the first 200 lines of {sample} parse "
     "as json (e.g. line 1: not_json: '83.149.9.216 - - [17/May/2015:10:05:03 +0000] \"GET "
     "/presentations/logstash-monitorama-2013/images/ki...'); try: botwatch parse --format "
     "auto {sample}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("name", "level", "key", "reason"), CHECK_ONLY, ids=[r[0] for r in CHECK_ONLY]
)
def test_what_loads_but_would_fail_or_read_nothing(name, level, key, reason):
    path = BAD / f"{name}.yaml"
    reason = reason.replace("{sample}", str(SAMPLE_LOG))
    assert _lines(path) == [f"{path}: {level}: {key}: {reason}"]


def test_check_reports_what_the_dag_parse_reports():
    from spark_jobs.config.loading import load_usecase
    from spark_jobs.errors import ConfigError

    path = BAD / "bad_month.yaml"
    with pytest.raises(ConfigError) as info:
        load_usecase(path)
    key_and_reason = str(info.value).removeprefix(f"{path}: ")
    assert _lines(path) == [f"{path}: error: {key_and_reason}"]


def test_a_shipped_config_is_ok_and_says_how_its_logs_parse():
    path = REPO / "usecase_configs" / "behavioural_bots.yaml"
    assert _lines(path) == [
        f"{path}: ok",
        f"{path}: note: source.format: 200 of the first 200 lines of {SAMPLE_LOG} parse as "
        "combined",
    ]


def test_format_auto_says_which_preset_it_picks(tmp_path):
    path = usecase_yaml(tmp_path, "auto_case", source={"path": str(SAMPLE_LOG), "format": "auto"})
    assert _lines(path)[1] == (
        f"{path}: note: source.format: 200 of the first 200 lines of {SAMPLE_LOG} parse as "
        "combined (format auto picks it)"
    )


def _log(tmp_path, bad_at: set[int], total: int = 40):
    lines = ["garbage" if i in bad_at else COMBINED.format(s=i % 60) for i in range(1, total + 1)]
    path = tmp_path / "access.log"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_more_than_five_percent_malformed_is_a_warning_naming_a_bad_line(tmp_path):
    log = _log(tmp_path, bad_at={7, 20, 33})
    path = usecase_yaml(tmp_path, "some_bad", source={"path": str(log)})
    assert _lines(path) == [
        f"{path}: warning: source.format: 37 of the first 40 lines of {log} parse as combined "
        "(3 do not: e.g. line 7: no_match: 'garbage')"
    ]


def test_a_few_malformed_lines_are_no_warning(tmp_path):
    log = _log(tmp_path, bad_at={12})
    path = usecase_yaml(tmp_path, "one_bad", source={"path": str(log)})
    assert _lines(path) == [
        f"{path}: ok",
        f"{path}: note: source.format: 39 of the first 40 lines of {log} parse as combined",
    ]


def test_an_env_var_with_a_default_is_fine_and_a_set_one_too(tmp_path, monkeypatch):
    path = usecase_yaml(
        tmp_path, "env_case", source={"path": "${BOTWATCH_LOGS:-" + f"{SAMPLE_LOG}}}"}
    )
    assert _lines(path)[0] == f"{path}: ok"
    monkeypatch.setenv("BOTWATCH_TEST_UNSET_LOGS", str(SAMPLE_LOG.parent))
    assert _lines(BAD / "unset_env.yaml")[0].endswith(
        f"warning: source.path: no file matches {SAMPLE_LOG.parent}/*.log today; ingest fails "
        "while none does"
    )


def test_an_unset_sink_secret_is_a_warning(tmp_path):
    sinks = [{"type": "webhook", "format": "slack", "url_env": "SLACK_URL"}]
    path = usecase_yaml(
        tmp_path, "secret", source={"path": str(SAMPLE_LOG)}, alert={"sinks": sinks}
    )
    assert _lines(path)[0] == (
        f"{path}: warning: alert.sinks.0.url_env: SLACK_URL is not set here; deliver needs it "
        "where the task runs"
    )


def test_repeated_ids_in_a_folder_are_errors_in_both_files(tmp_path):
    for name in ("a", "b"):
        shutil.copy(REPO / "usecase_configs" / "scrapers.yaml", tmp_path / f"{name}.yaml")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    tail = "neither DAG is loaded until each file has an id of its own"
    reports = check_paths([tmp_path])
    assert [r.lines()[0] for r in reports] == [
        f"{a}: error: id: 'scrapers' is also the id of {b}; {tail}",
        f"{b}: error: id: 'scrapers' is also the id of {a}; {tail}",
    ]


def test_a_missing_file_is_an_error(tmp_path):
    assert _lines(tmp_path / "nope.yaml") == [
        f"{tmp_path / 'nope.yaml'}: error: (top level): no such file"
    ]


def test_a_label_file_that_is_not_there_is_a_warning(tmp_path):
    labels = tmp_path / "labels" / "bots.csv"
    model = {"kind": "supervised", "labels": {"path": str(labels)}}
    path = usecase_yaml(tmp_path, "sup", source={"path": str(SAMPLE_LOG)}, model=model)
    assert _lines(path)[0] == (
        f"{path}: warning: model.labels.path: no file matches {labels} today; train fails "
        "while none does"
    )
