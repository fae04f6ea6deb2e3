"""Config loading: shipped configs load; each broken config gives one line naming file, key,
reason; the project home is found as ``spark_jobs.config.paths`` documents."""

from __future__ import annotations

import re
import shutil
import textwrap
from pathlib import Path

import pytest

from spark_jobs.config.loading import load_all, load_usecase
from spark_jobs.errors import ConfigError
from spark_jobs.features.catalog import ALL_FEATURE_NAMES, FEATURE_NAMES
from tests.support.paths import BAD_CONFIGS, REPO

BAD = BAD_CONFIGS


@pytest.fixture(autouse=True)
def _no_env_overrides(monkeypatch):
    for name in ("BOTWATCH_HOME", "BOTWATCH_LAKE", "BOTWATCH_EXPECTATIONS_DIR", "BOTWATCH_LOGS"):
        monkeypatch.delenv(name, raising=False)


def test_every_shipped_config_validates():
    good, errors = load_all(REPO / "usecase_configs")
    assert errors == []
    assert {uc.id for _, uc in good} >= {"behavioural_bots"}


def test_defaults_are_merged_under_each_config():
    usecase = load_usecase(REPO / "usecase_configs" / "behavioural_bots.yaml")
    assert usecase.quality.suites == ["parsed_logs", "enriched_logs", "client_entity"]
    assert usecase.model.k == 6  # the use case's own value wins over the default 8
    assert "spark.sql.shuffle.partitions" in usecase.spark


#: Every fixture of tests/fixtures/bad_configs/ that does not load: (file stem, key, reason).
#: The line is exactly "<file>: <key>: <reason>"; {repo} is the repository root.
BROKEN = [
    ("bad_allowlist", "alert.allowlist.0.cidr", "not an IP address or network: '10.0.0.300/8'"),
    ("bad_cron", "schedule", "invalid cron expression '0 25 * * *'"),
    (
        "bad_entity_key",
        "entity.key",
        "must be one of client, client_user_agent, session_id; got 'ip'",
    ),
    (
        "bad_format",
        "source.format",
        "unknown format 'iis'; known: common, combined, combined_extra, vhost_combined, vhost_common, nginx_main, nginx_combined, json, auto",
    ),
    (
        "bad_id",
        "id",
        "an id may contain lowercase letters, digits and _, must start with a letter and be 2 to 63 characters long; got the text 'Login-Abuse'",
    ),
    ("bad_log_format", "source.log_format", "cannot read the directive at '%{Referer'"),
    (
        "bad_when_name",
        "when",
        "unknown name 'status_404_shar'; did you mean 'status_404_share'? names are the features of docs/features.md and declared_crawler, spoofed_crawler, crawler_operator, crawler_name, user_agent, client",
    ),
    ("bad_when_syntax", "when", "syntax error in 'requests >= 5 and': invalid syntax"),
    (
        "bad_when_type",
        "when",
        "'night_share' is a number, not a condition: and/or joins conditions; compare it, e.g. `night_share >= 1`",
    ),
    ("bad_month", "start_date", "not a date: 2014-13-01 (month 13; months are 1 to 12)"),
    (
        "bad_sink_name",
        "alert.sinks.0.name",
        "a sink name may contain lowercase letters, digits, _ and -, must start with a letter and be at most 41 characters long; got the text 'My Alerts'",
    ),
    ("bad_timezone", "timezone", "unknown time zone 'Europe/Pariss'"),
    ("broken_yaml", "description", "line 2, column 14: a [ list that is never closed with ]"),
    ("catchup_text", "catchup", "expected true or false, got the text 'sometimes'"),
    (
        "duplicate_key",
        "threshold",
        "given twice (lines 6 and 9); keep one, YAML would silently use the last",
    ),
    (
        "duplicate_nested_key",
        "alert.min_requests",
        "given twice (lines 7 and 9); keep one, YAML would silently use the last",
    ),
    (
        "empty",
        "(top level)",
        "the file is empty; a use case needs at least id, description, start_date, source and features",
    ),
    ("end_before_start", "end_date", "must be after start_date (2015-05-17 00:00)"),
    ("end_with_offset", "end_date", "must be after start_date (2015-05-17 00:00)"),
    (
        "entity_scalar",
        "entity",
        "expected a mapping with keys such as key, session_gap_minutes (one 'key: value' per line), got the text 'client'",
    ),
    (
        "feature_typo",
        "features",
        f"unknown feature 'head_shar'; did you mean 'head_share'? the {len(ALL_FEATURE_NAMES)} features are listed in docs/features.md",
    ),
    (
        "features_scalar",
        "features",
        "expected a list ([a, b] or one '- item' per line), got the text 'requests'",
    ),
    ("feb_30", "end_date", "not a date: 2015-02-30 (February 2015 has 28 days)"),
    (
        "member_typo",
        "model.members.0",
        "must be one of kmeans, bisecting_kmeans, gmm, robust_z; got 'kmean'; did you mean 'kmeans'?",
    ),
    ("missing_description", "description", "required key is missing"),
    ("missing_source", "source", "required key is missing"),
    ("negative_window", "model.training_window_days", "must be at least 1, got the number -3"),
    ("nested_key_typo", "source.fromat", "unknown key; did you mean 'format'?"),
    (
        "not_utf8",
        "description",
        "not UTF-8 text: byte 0xe9 at line 2, column 18 (byte offset 30); save the file as UTF-8",
    ),
    (
        "only_comments",
        "(top level)",
        "the file holds only comments; a use case needs at least id, description, start_date, source and features",
    ),
    (
        "sinks_mapping",
        "alert.sinks",
        "expected a list ([a, b] or one '- item' per line), got a mapping (type)",
    ),
    ("spark_key", "spark", "Spark conf keys must start with 'spark.': ['sql.shuffle.partitions']"),
    (
        "tab_indent",
        "source.path",
        "line 6, column 1: a tab character; YAML indents with spaces only",
    ),
    ("threshold_range", "threshold", "must be at most 100, got the number 150"),
    ("threshold_text", "threshold", "expected a number, got the text 'high'"),
    (
        "top_level_list",
        "(top level)",
        "the file holds a list of 2 item(s); a use case is a mapping of keys (id: ..., source: ..., one per line)",
    ),
    (
        "top_level_scalar",
        "(top level)",
        "the file holds a single value ('just some text'); a use case is a mapping of keys (id: ..., source: ..., one per line)",
    ),
    ("two_formats", "source", "give either format or log_format, not both"),
    ("unclosed_quote", "description", "line 2, column 14: a quote that is never closed"),
    (
        "unknown_directive",
        "source.log_format",
        "%Q is not an Apache LogFormat directive; known letters: %A %a %B %b %C %D %e %f %H %h %I %i %k %L %l %m %n %O %o %P %p %q %R %r %S %s %T %t %U %u %V %v %X",
    ),
    (
        "unknown_feature",
        "features",
        f"unknown feature 'mouse_speed'; the {len(ALL_FEATURE_NAMES)} features are listed in docs/features.md",
    ),
    ("unknown_key", "treshold", "unknown key; did you mean 'threshold'?"),
    (
        "unknown_model_kind",
        "model.kind",
        "must be one of unsupervised, supervised, pretrained; got 'semi_supervised'; did you mean 'supervised'?",
    ),
    (
        "unknown_sink_type",
        "alert.sinks.0",
        "unknown type 'slack'; known: file, webhook, elasticsearch, email",
    ),
    (
        "unknown_suite",
        "quality.suites",
        "unknown suite 'parsed_logz': no such file in {repo}/expectations; did you mean 'parsed_logs'? known: client_entity, enriched_logs, parsed_logs",
    ),
    (
        "weak_label_feature",
        "features",
        "declared_crawler is a weak label on purpose, not a feature: it says what a client calls itself, so a model fed it would only find the bots that say so; use model.weak_labels: true to train on it (docs/features.md)",
    ),
    ("webhook_no_target", "alert.sinks.0", "give exactly one of url, url_env, conn_id (got none)"),
    ("zero_session_gap", "entity.session_gap_minutes", "must be more than 0, got the number 0"),
]
#: Fixtures that load but that ``botwatch check`` rejects or warns about (tests/config/test_checks.py).
CHECK_ONLY = {"no_files", "unknown_date_code", "unknown_placeholder", "unset_env", "wrong_format"}


@pytest.mark.parametrize(("name", "key", "reason"), BROKEN, ids=[row[0] for row in BROKEN])
def test_each_broken_config_is_one_line_with_file_key_and_reason(name, key, reason):
    path = BAD / f"{name}.yaml"
    with pytest.raises(ConfigError) as info:
        load_usecase(path)
    expected = f"{path}: {key}: {reason.replace('{repo}', str(REPO))}"
    assert str(info.value) == expected
    assert (info.value.key, info.value.path) == (key, str(path))


def test_every_bad_config_fixture_is_asserted_and_there_are_enough():
    fixtures = {p.stem for p in BAD.glob("*.yaml")}
    assert fixtures == {row[0] for row in BROKEN} | CHECK_ONLY
    assert len(BROKEN) >= 30


def test_the_other_configs_of_the_folder_still_load(tmp_path):
    for name in ("_defaults.yaml", "behavioural_bots.yaml", "scrapers.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path / name)
    for name, _, _ in BROKEN:
        shutil.copy(BAD / f"{name}.yaml", tmp_path / f"{name}.yaml")
    good, errors = load_all(tmp_path)
    assert sorted(uc.id for _, uc in good) == ["behavioural_bots", "scrapers"]
    assert len(errors) == len(BROKEN)
    assert all("\n" not in line for line in errors)
    # the user's words: no Python class (EntityConfig, ValueError), no regex (^[a-z]...)
    python_words = re.compile(r"instance of|[A-Z][a-z]+(Config|Error)\b|\^\[|\]\{")
    assert [line for line in errors if python_words.search(line)] == []
    assert {line.split(": ", 1)[0] for line in errors} == {
        str(tmp_path / f"{name}.yaml") for name, _, _ in BROKEN
    }


def test_load_all_keeps_good_configs_beside_bad_ones(tmp_path):
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path)
    shutil.copy(BAD / "unknown_key.yaml", tmp_path)
    shutil.copy(BAD / "bad_cron.yaml", tmp_path)
    good, errors = load_all(tmp_path)
    assert [uc.id for _, uc in good] == ["behavioural_bots"]
    assert len(errors) == 2
    assert all(line.startswith(str(tmp_path)) for line in errors)


def test_a_broken_defaults_file_is_said_against_each_file_it_breaks(tmp_path):
    (tmp_path / "_defaults.yaml").write_text("threshold: 90\nthreshold: 95\n")
    shutil.copy(REPO / "usecase_configs" / "scrapers.yaml", tmp_path)
    good, errors = load_all(tmp_path)
    assert good == []
    assert errors == [
        f"{tmp_path / 'scrapers.yaml'}: threshold: given twice (lines 1 and 2); keep one, YAML "
        f"would silently use the last (in {tmp_path / '_defaults.yaml'}, merged under every "
        "file of the folder)"
    ]


def test_an_unexpected_failure_on_one_file_is_that_files_line(tmp_path, monkeypatch):
    import spark_jobs.config.loading as loading

    for name in ("scrapers.yaml", "behavioural_bots.yaml"):
        shutil.copy(REPO / "usecase_configs" / name, tmp_path)
    real = loading.load_usecase

    def flaky(path, **kwargs):
        if path.name == "scrapers.yaml":
            raise RuntimeError("disk on fire")
        return real(path, **kwargs)

    monkeypatch.setattr(loading, "load_usecase", flaky)
    good, errors = loading.load_all(tmp_path)
    assert [uc.id for _, uc in good] == ["behavioural_bots"]
    assert errors == [f"{tmp_path / 'scrapers.yaml'}: (top level): cannot be read: disk on fire"]


def test_a_repeated_id_loads_neither_file_and_names_both(tmp_path):
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path / "a.yaml")
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path / "b.yaml")
    shutil.copy(REPO / "usecase_configs" / "scrapers.yaml", tmp_path / "c.yaml")
    good, errors = load_all(tmp_path)
    assert [uc.id for _, uc in good] == ["scrapers"]
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    tail = "neither DAG is loaded until each file has an id of its own"
    assert errors == [
        f"{a}: id: 'behavioural_bots' is also the id of {b}; {tail}",
        f"{b}: id: 'behavioural_bots' is also the id of {a}; {tail}",
    ]


# --- the project home -----------------------------------------------------------------------


def _project(root: Path, suite: str = "mine") -> Path:
    """A project folder of its own: usecase_configs/case.yaml with relative paths, a suite."""
    (root / "usecase_configs").mkdir(parents=True)
    (root / "expectations").mkdir()
    (root / "expectations" / f"{suite}.json").write_text("{}")
    config = root / "usecase_configs" / "case.yaml"
    config.write_text(
        textwrap.dedent(
            f"""\
            id: temp_case
            description: a use case outside the repository
            start_date: 2024-01-01T00:00:00Z
            source: {{path: "logs/{{start:%Y-%m-%d}}/*.log"}}
            features: [{FEATURE_NAMES[0]}, {FEATURE_NAMES[1]}]
            model: {{kind: supervised, labels: {{path: labels/bots.csv}}}}
            quality: {{suites: [{suite}]}}
            """
        )
    )
    return config


def test_relative_paths_resolve_against_the_configs_project(tmp_path):
    from datetime import UTC, datetime

    project = tmp_path / "proj"
    usecase = load_usecase(_project(project))
    day = datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 3, tzinfo=UTC)
    assert usecase.home == project.resolve()
    assert usecase.source_glob(*day) == str(project.resolve() / "logs/2024-01-02/*.log")
    assert usecase.lake_root() == str(project.resolve() / "lake")
    assert usecase.model.labels.resolved_path() == str(project.resolve() / "labels/bots.csv")
    assert usecase.expectations_dir() == project.resolve() / "expectations"


def test_suites_are_looked_for_in_the_configs_project(tmp_path):
    config = _project(tmp_path / "proj", suite="theirs")
    config.write_text(config.read_text().replace("suites: [theirs]", "suites: [parsed_logs]"))
    with pytest.raises(
        ConfigError,
        match=r"quality\.suites: unknown suite 'parsed_logs': no such file in .*proj/expectations",
    ):
        load_usecase(config)


def test_botwatch_home_wins(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "expectations").mkdir(parents=True)
    (elsewhere / "expectations" / "mine.json").write_text("{}")
    monkeypatch.setenv("BOTWATCH_HOME", str(elsewhere))
    usecase = load_usecase(_project(tmp_path / "proj"), home=tmp_path / "passed")
    assert usecase.home == elsewhere.resolve()
    assert usecase.lake_root() == str(elsewhere.resolve() / "lake")


def test_a_passed_home_beats_the_configs_folder(tmp_path):
    passed = tmp_path / "passed"
    usecase = load_usecase(_project(tmp_path / "proj"), home=passed)
    assert usecase.home == passed.resolve()
    assert usecase.model.labels.resolved_path() == str(passed.resolve() / "labels/bots.csv")


def test_a_config_outside_any_project_resolves_against_the_current_directory(tmp_path, monkeypatch):
    shutil.copy(REPO / "usecase_configs" / "behavioural_bots.yaml", tmp_path)
    monkeypatch.chdir(REPO / "tests")
    usecase = load_usecase(tmp_path / "behavioural_bots.yaml")
    assert usecase.home == REPO / "tests"


@pytest.mark.parametrize(
    "config",
    [
        "usecase_configs/behavioural_bots.yaml",
        "bench/eval/elastic_weak.yaml",
        "bench/aircare_bench.yaml",
        "tests/fixtures/bad_configs/threshold_range.yaml",
    ],
)
def test_the_repositorys_configs_have_the_repository_as_home(config):
    from spark_jobs.config.paths import project_home

    assert project_home(REPO / config) == REPO
