"""Run ``botwatch backtest`` on the Spark the tests use (a local Connect server, local[2]).

A fixture's expected alerts are written and checked on the same engine, so float sums and
cluster initialisations cannot differ between the two (``tests/fixtures/usecases/README.md``)::

    BOTWATCH_LOGS=tests/fixtures/usecases/<id>/access.log.gz .venv/bin/python -m \\
        tests.support.write_expect --config usecase_configs/<id>.yaml --from D --to D \\
        --audit --write-expect tests/fixtures/usecases/<id>/expected.yaml
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from spark_jobs.stage import backtest_cli
from tests.support.spark_server import test_connect_server


def main(argv: list[str]) -> int:
    with tempfile.TemporaryDirectory() as run_dir, test_connect_server(Path(run_dir)) as url:
        os.environ["BOTWATCH_SPARK_REMOTE"] = url
        return backtest_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
