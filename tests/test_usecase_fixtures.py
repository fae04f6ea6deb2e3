"""Every shipped use case against its fixture: a small real log and the alerts it must raise.

What ``cscli hubtest`` is to a CrowdSec scenario: ``tests/fixtures/usecases/<id>/expected.yaml``
names the days, the log (``env: BOTWATCH_LOGS``) and, per interval, the entities the use case
raises and the ones it suppresses (and by what); ``botwatch backtest --expect`` runs the use
case over those days and compares. Add a use case, add its fixture (README, "Fixtures with
expected alerts"); the first test fails for a shipped use case without one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from spark_jobs.reporting import backtest_expect
from spark_jobs.stage import backtest_cli
from tests.support.paths import REPO

SHIPPED = sorted(p for p in (REPO / "usecase_configs").glob("*.yaml") if p.name[0] != "_")
FIXTURES = REPO / "tests" / "fixtures" / "usecases"


def _expected(config):
    return FIXTURES / config.stem / backtest_expect.EXPECTED_FILE


def test_every_shipped_use_case_has_a_fixture_with_expected_alerts():
    missing = [p.name for p in SHIPPED if not _expected(p).is_file()]
    assert missing == [], f"add a fixture for {missing} (README: Fixtures with expected alerts)"
    for config in SHIPPED:
        expectation = backtest_expect.load(_expected(config))
        assert expectation.use_case == config.stem
        raised = [e for interval in expectation.intervals.values() for e in interval.raised]
        assert raised, f"{config.name}: its fixture must show it finding something"
        for name, value in backtest_expect.resolved_env(expectation, _expected(config)).items():
            inside = Path(value).resolve().is_relative_to((REPO / "tests" / "fixtures").resolve())
            assert inside, f"{config.name}: {name} must be a file of tests/fixtures/, not {value}"


@pytest.mark.spark
@pytest.mark.parametrize("config", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_use_case_raises_its_expected_alerts(spark, config, tmp_path, capsys):
    code = backtest_cli.main(
        ["--config", str(config), "--expect", str(_expected(config)), "--lake", str(tmp_path)]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert f"expect: ok against {_expected(config)}" in printed
