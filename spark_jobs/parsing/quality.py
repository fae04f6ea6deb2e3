"""The validate stage's checks: Great Expectations suites on a DataFrame, and ingest count rules.

Great Expectations is imported inside ``run_suite`` only: it costs ~8 s, and only validate.py
needs it (the DAG parser and the other stages must not pay for it). Suites are plain JSON files
in ``expectations/`` so they are reviewed like code and need no GE project folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from spark_jobs.config.paths import expectations_dir
from spark_jobs.config.usecase import QualityConfig
from spark_jobs.lake.records import IngestRecord
from spark_jobs.reporting.text import cap, squash

#: How many offending values a failure line shows: enough to recognise the problem in a task
#: log, short enough to stay one line.
_EXAMPLES = 3


def load_suite_json(suite_name: str, directory: str | os.PathLike[str] | None = None) -> dict:
    path = Path(directory or expectations_dir()) / f"{suite_name}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.get("name") != suite_name:
        raise ValueError(f"{path}: suite name {data.get('name')!r} != file name {suite_name!r}")
    return data


def run_suite(
    df: Any, suite_name: str, expectations_dir: str | os.PathLike[str] | None = None
) -> dict:
    """Validate ``df`` against one suite; returns success, the full GE result and the failures.

    A fresh ephemeral context per call: nothing is written to disk and suites of different
    runs cannot collide by name. The cost that matters (GE import, Spark warm-up) is paid once
    per process anyway.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    suite_json = load_suite_json(suite_name, expectations_dir)
    context = gx.get_context(mode="ephemeral")
    # tqdm bars go to stderr line by line under spark-submit and flood the Airflow task log.
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    suite = gx.ExpectationSuite(**suite_json)
    # GE logs and drops an expectation whose config it cannot build; a gate that silently
    # checks less than its file says must not pass.
    if len(suite.expectations) != len(suite_json.get("expectations", [])):
        raise ValueError(
            f"suite {suite_name}: only {len(suite.expectations)} of "
            f"{len(suite_json.get('expectations', []))} expectations are valid (see log above)"
        )
    suite = context.suites.add(suite)
    batch = (
        context.data_sources.add_spark(name="botwatch")
        .add_dataframe_asset(name=suite_name)
        .add_batch_definition_whole_dataframe(name="whole")
    )
    definition = context.validation_definitions.add(
        gx.ValidationDefinition(name=suite_name, data=batch, suite=suite)
    )
    was_cached = df.is_cached
    try:
        result = definition.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    finally:
        if not was_cached:  # GE persists the batch; release it for the next stage in a session
            df.unpersist()
    result_json = result.to_json_dict()
    return {
        "suite": suite_name,
        "success": bool(result_json["success"]),
        "result": result_json,
        "failed": failed_expectations(result_json),
    }


def failed_expectations(result_json: dict) -> list[dict]:
    """The failed expectations of a GE result, reduced to what a person needs to act on."""
    failed = []
    for item in result_json.get("results", []):
        if item.get("success"):
            continue
        config = item.get("expectation_config", {})
        kwargs = {k: v for k, v in config.get("kwargs", {}).items() if k != "batch_id"}
        failed.append(
            {
                "expectation": config.get("type"),
                "column": kwargs.get("column"),
                "kwargs": kwargs,
                "observed": _observed(item.get("result") or {}),
                "exception": _exception_message(item.get("exception_info") or {}),
                "notes": (config.get("meta") or {}).get("notes"),
            }
        )
    return failed


def _exception_message(info: dict) -> str | None:
    """GE reports an expectation's own error flat, a failed metric (missing column, wrong type)
    nested under the metric's id; either way it is why there is no observed value."""
    for entry in [info, *(v for v in info.values() if isinstance(v, dict))]:
        if entry.get("raised_exception") and entry.get("exception_message"):
            return str(entry["exception_message"])
    return None


def _observed(result: dict) -> Any:
    mismatched = (result.get("details") or {}).get("mismatched")
    if mismatched:  # column-set rules: the difference says more than the whole observed list
        return mismatched
    if "observed_value" in result:
        return result["observed_value"]
    if "unexpected_count" in result:
        return {
            "unexpected_count": result["unexpected_count"],
            "element_count": result.get("element_count"),
            "examples": (result.get("partial_unexpected_list") or [])[:_EXAMPLES],
        }
    return None


def describe_failure(failure: dict) -> str:
    """One short phrase per failed expectation, for the exception and the task log."""
    name = failure["expectation"]
    if failure.get("column"):
        name += f"({failure['column']})"
    if failure.get("exception"):
        return f"{name} raised {_short(failure['exception'])}"
    observed = failure.get("observed")
    if isinstance(observed, dict) and "unexpected_count" in observed:
        return (
            f"{name}: {observed['unexpected_count']} of {observed['element_count']} rows "
            f"unexpected, e.g. {_short(observed['examples'])}"
        )
    return f"{name}: observed {_short(observed)}"


def _short(value: Any, limit: int = 120) -> str:
    """Offending values can be whole request lines; keep the summary one readable line."""
    return cap(squash(repr(value)), limit, ellipsis="...")


def check_counts(record: IngestRecord, quality_cfg: QualityConfig) -> list[str]:
    """Rules on the ingest counts: GE sees only the rows that parsed, not the ones that did not."""
    failures = []
    read, parsed = record.read, record.parsed
    quarantined, out_of_window = record.quarantined, record.out_of_window
    if read != parsed + quarantined + out_of_window:
        failures.append(
            f"read {read} != parsed {parsed} + quarantined {quarantined} "
            f"+ out_of_window {out_of_window}: lines were lost or counted twice"
        )
    ratio = quarantined / read if read else 0.0
    if ratio > quality_cfg.max_quarantined_ratio:
        failures.append(
            f"quarantined ratio {ratio:.4f} ({quarantined}/{read}) > "
            f"max_quarantined_ratio {quality_cfg.max_quarantined_ratio}"
        )
    if parsed < quality_cfg.min_parsed_rows:
        failures.append(f"parsed {parsed} < min_parsed_rows {quality_cfg.min_parsed_rows}")
    for f in record.files:
        if f.lost_or_double():
            failures.append(f"{f.source_file}: lines lost or counted twice ({f.to_json()})")
    truncated = [f.source_file for f in record.files if f.truncated]
    if truncated and not quality_cfg.allow_truncated_files:
        failures.append(
            f"truncated compressed file(s), read up to the damage: {', '.join(truncated)} "
            "(set quality.allow_truncated_files to accept them)"
        )
    return failures
