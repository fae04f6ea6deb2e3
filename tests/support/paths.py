"""Where the tests find the repository and their fixtures, whatever folder a test lives in."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TESTS = REPO / "tests"
FIXTURES = TESTS / "fixtures"
#: 10,000 real combined-format lines (Elastic's example Apache log), the demo's default input.
SAMPLE_LOG = FIXTURES / "logs" / "elastic_examples" / "apache_logs.gz"
BAD_CONFIGS = FIXTURES / "bad_configs"


def alert_docs() -> list[dict]:
    """Three ECS alert documents with hostile content, shared by every sink's tests."""
    return json.loads((FIXTURES / "alerts" / "alert_docs.json").read_text("utf-8"))
