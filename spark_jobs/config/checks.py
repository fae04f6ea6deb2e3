"""``botwatch check``: everything the DAG parse rejects, plus what can be seen before a run.

The DAG factory only loads a config (schema, YAML). Some mistakes pass that and fail, or worse
quietly read nothing, once a run starts: a ``${VAR}`` nobody exported, a ``{begin:%Y}``
placeholder, a glob that matches no file, a format that does not fit the logs (found after a
100-second ingest that quarantines every line). This module looks for those on the machine the
user is on, in a second: the environment now, the files now, and a sample parse of the first
lines of one matched file with the configured format (``parsing.sample``, the Spark parser's
own regexes). Each problem is a ``Finding``: error (the run would fail or read nothing),
warning (it would run, perhaps not as meant) or note (what the check saw, e.g. the format
``auto`` picks). No Spark session is started.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from spark_jobs.config.loading import config_files, duplicate_id_error, load_usecase
from spark_jobs.config.paths import placeholder_problems, unset_env_vars
from spark_jobs.config.usecase import UseCase
from spark_jobs.errors import ConfigError
from spark_jobs.parsing.sample import MIN_SHARE, SAMPLE_LINES, SampleResult, sample_parse

Level = Literal["error", "warning", "note"]
#: More malformed sample lines than this share is a warning (the quality gate's default).
MALFORMED_WARNING = 0.05
#: Characters of an example line shown.
EXAMPLE_CHARS = 100


@dataclass(frozen=True)
class Finding:
    level: Level
    key: str
    reason: str


@dataclass
class FileReport:
    """The findings of one config file, and the use case when it loaded."""

    path: Path
    findings: list[Finding] = field(default_factory=list)
    usecase: UseCase | None = None

    def add(self, level: Level, key: str, reason: str) -> None:
        self.findings.append(Finding(level, key, " ".join(reason.split())))

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "error"]

    def lines(self) -> list[str]:
        """``path: ok`` when nothing is wrong, else ``path: level: key: reason`` per finding;
        notes follow either."""
        order = {"error": 0, "warning": 1, "note": 2}
        found = sorted(self.findings, key=lambda f: order[f.level])
        head = [] if any(f.level != "note" for f in found) else [f"{self.path}: ok"]
        return head + [f"{self.path}: {f.level}: {f.key}: {f.reason}" for f in found]


def check_paths(paths: list[str | Path], *, sample_lines: int = SAMPLE_LINES) -> list[FileReport]:
    """Check files and folders (a folder: its use-case files); ids repeated in one folder are
    errors in each file, as the DAG factory makes them."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        files.extend(config_files(path) if path.is_dir() else [path])
    reports = [check_file(path, sample_lines=sample_lines) for path in files]
    by_id: dict[tuple[Path, str], list[FileReport]] = {}
    for report in reports:
        if report.usecase is not None:
            key = (report.path.resolve().parent, report.usecase.id)
            by_id.setdefault(key, []).append(report)
    for (_, use_case), same in by_id.items():
        for report in same if len(same) > 1 else []:
            others = [str(other.path) for other in same if other is not report]
            error = duplicate_id_error(report.path, use_case, others)
            report.add("error", "id", error.reason or str(error))
    return reports


def check_file(path: str | Path, *, sample_lines: int = SAMPLE_LINES) -> FileReport:
    """Every finding of one use-case file."""
    report = FileReport(Path(path))
    if not report.path.is_file():
        report.add("error", "(top level)", "no such file")
        return report
    try:
        usecase = load_usecase(report.path)
    except ConfigError as exc:
        key, reason = _parts(report.path, exc)
        report.add("error", key, reason)
        return report
    except Exception as exc:  # noqa: BLE001 - as load_all: one file's bug is its own error
        report.add("error", "(top level)", f"cannot be read: {exc}")
        return report
    report.usecase = usecase
    source_ok = _check_env_and_placeholders(report, usecase)
    if source_ok:
        files = _source_files(report, usecase)
        if files:
            _check_sample(report, usecase, files, sample_lines)
    _check_labels(report, usecase)
    _check_secrets(report, usecase)
    return report


def _check_labels(report: FileReport, usecase: UseCase) -> None:
    """A supervised model's label file: train fails without it."""
    labels = usecase.model.labels
    if labels is None or unset_env_vars(labels.path):
        return
    pattern = labels.resolved_path()
    if "://" not in pattern and not any(glob.glob(g) for g in _expand_braces(pattern)):
        report.add("warning", "model.labels.path", f"no file matches {pattern} today; train "
                   "fails while none does")  # fmt: skip


def _parts(path: Path, exc: ConfigError) -> tuple[str, str]:
    """(key, reason) of a ConfigError, also one raised as a plain ``path: key: reason``."""
    if exc.key is not None and exc.reason is not None:
        return exc.key, exc.reason
    text = str(exc).removeprefix(f"{path}: ")
    key, _, reason = text.partition(": ")
    return (key, reason) if reason else ("(top level)", text)


def _check_env_and_placeholders(report: FileReport, usecase: UseCase) -> bool:
    """Environment references and placeholders of every path the jobs expand; False when the
    source path itself cannot be filled in (its files are then not looked for)."""
    paths = {"source.path": usecase.source.path, "storage.root": usecase.storage.root}
    if usecase.model.labels is not None:
        paths["model.labels.path"] = usecase.model.labels.path
    source_ok = True
    for key, value in paths.items():
        if not value:
            continue
        for name in unset_env_vars(value):
            report.add(
                "error",
                key,
                f"environment variable {name} is not set and has no default; export it or "
                f"write ${{{name}:-fallback}}",
            )
            source_ok = source_ok and key != "source.path"
        for problem in placeholder_problems(value) if key != "storage.root" else []:
            report.add("error", key, problem)
            source_ok = source_ok and key != "source.path"
    return source_ok


def _expand_braces(pattern: str) -> list[str]:
    """Hadoop's ``{a,b}`` alternatives as separate globs (Python's glob has none)."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", pattern)
    if match is None:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end() :]
    return [g for alt in match.group(1).split(",") for g in _expand_braces(head + alt + tail)]


def _source_files(report: FileReport, usecase: UseCase) -> list[str]:
    """The files the source path matches today (any interval), or a finding saying why none."""
    pattern = usecase.source_glob_all()
    local = pattern.removeprefix("file://").removeprefix("file:")
    if "://" in local:
        report.add("note", "source.path", f"{pattern} is not a local path: its files are not "
                   "looked for here")  # fmt: skip
        return []
    files = sorted(
        {f for one in _expand_braces(local) for f in glob.glob(one) if os.path.isfile(f)}
    )
    if not files:
        report.add(
            "warning",
            "source.path",
            f"no file matches {pattern} today; ingest fails while none does",
        )
    return files


def _check_sample(report: FileReport, usecase: UseCase, files: list[str], limit: int) -> None:
    """Parse the head of the last matched file (in name order: the newest, for dated names)."""
    source = usecase.source
    key = "source.log_format" if source.log_format else "source.format"
    sample = sample_parse(files[-1], source.format_spec, json_fields=source.json_fields,
                          limit=limit)  # fmt: skip
    name = _format_name(source.format_spec, sample)
    if sample.lines == 0:
        report.add("warning", key, f"{sample.path} is empty: nothing to sample")
        return
    share = sample.parsed / sample.lines
    summary = f"{sample.parsed} of the first {sample.lines} lines of {sample.path} parse as {name}"
    if sample.parsed == 0:
        report.add(
            "error",
            key,
            f"none of the first {sample.lines} lines of {sample.path} parse as {name} "
            f"({_example(sample)}); try: botwatch parse --format auto {sample.path}",
        )
    elif source.format_spec == "auto" and share < MIN_SHARE:
        report.add("error", key, f"format auto: {summary}, below {MIN_SHARE:.0%}; set "
                   "source.log_format to the server's LogFormat / log_format string")  # fmt: skip
    elif sample.malformed / sample.lines > MALFORMED_WARNING:
        report.add("warning", key, f"{summary} ({sample.malformed} do not: {_example(sample)})")
    else:
        report.add("note", key, summary)


def _format_name(spec: str, sample: SampleResult) -> str:
    if spec == "auto":
        return f"{sample.format} (format auto picks it)"
    return spec if len(spec) <= 30 else "the log_format"


def _example(sample: SampleResult) -> str:
    number, reason, line = sample.bad[0]
    shown = line if len(line) <= EXAMPLE_CHARS else line[:EXAMPLE_CHARS] + "..."
    return f"e.g. line {number}: {reason}: {shown!r}"


def _check_secrets(report: FileReport, usecase: UseCase) -> None:
    """Sink secrets named by environment variable: unset here is a warning, since the deliver
    task may run where they are set."""
    for index, sink in enumerate(usecase.alert.sinks):
        for name in ("url_env", "hmac_secret_env", "api_key_env", "password_env"):
            variable = getattr(sink, name, None)
            if variable and not os.environ.get(variable):
                report.add(
                    "warning",
                    f"alert.sinks.{index}.{name}",
                    f"{variable} is not set here; deliver needs it where the task runs",
                )
