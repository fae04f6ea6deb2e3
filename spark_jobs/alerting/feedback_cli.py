"""``botwatch feedback``: tell botwatch an alert was wrong (or right).

    botwatch feedback --config F ALERT_ID --false-positive --reason TEXT [--until YYYY-MM-DD]
    botwatch feedback --config F ALERT_ID --true-positive --reason TEXT
    botwatch feedback --config F --file verdicts.csv
    botwatch feedback --config F --list

A labels file is CSV with a header line; ``alert_id``, ``verdict`` and ``reason`` are required,
``until`` and ``analyst`` optional, in any order; blank lines and lines starting with ``#`` are
skipped::

    alert_id,verdict,reason,until,analyst
    3f9c2a1b7d4e,false_positive,our uptime monitor,2015-06-30,alice
    8d01e5c2aa93,true_positive,"scraped the price list, 4k pages",,bob

Every line is checked before anything is written: a file with any bad line records nothing and
lists each problem as ``file:line: reason``. The exit code is 2 for a bad id or file, 0 else.
"""

from __future__ import annotations

import argparse
import csv
import getpass
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime

from spark_jobs.alerting import feedback
from spark_jobs.alerting.feedback import AlertIndex, FeedbackError, VerdictInput
from spark_jobs.alerting.lifecycle import FALSE_POSITIVE, TRUE_POSITIVE

REQUIRED = ("alert_id", "verdict", "reason")
OPTIONAL = ("until", "analyst")


def default_analyst() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in the environment or the password database
        return "unknown"


def _until(text: str) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise FeedbackError(f"until {text!r} is not a date (YYYY-MM-DD)") from None


def _header(path: str, line: int, row: Sequence[str]) -> list[str]:
    names = [name.strip().lower() for name in row]
    missing = [n for n in REQUIRED if n not in names]
    unknown = [n for n in names if n not in REQUIRED + OPTIONAL]
    if missing or unknown or len(set(names)) != len(names):
        why = f"missing column(s) {', '.join(missing)}" if missing else ""
        why = why or (f"unknown column(s) {', '.join(unknown)}" if unknown else "repeated column")
        raise FeedbackError(f"{path}:{line}: {why}; the header is "
                            f"{','.join(REQUIRED)}[,{','.join(OPTIONAL)}]")  # fmt: skip
    return names


def _row(fields: dict[str, str], index: AlertIndex, analyst: str) -> VerdictInput:
    alert = index.resolve(fields["alert_id"])
    reason = " ".join(fields["reason"].split())
    if not reason:
        raise FeedbackError("reason is empty: say why (it is shown on every suppression)")
    until = _until(fields.get("until", ""))
    verdict = feedback.check_verdict(fields["verdict"], until, alert)
    return VerdictInput(alert, verdict, reason, fields.get("analyst", "").strip() or analyst, until)


def read_labels_file(path: str, index: AlertIndex, analyst: str) -> list[VerdictInput]:
    """Every verdict of a labels file; FeedbackError listing each bad line (``file:line:
    reason``, one per line of the message) when any line is bad."""
    try:
        handle = open(path, encoding="utf-8-sig", newline="")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise FeedbackError(f"{path}: cannot read: {exc.strerror or exc}") from None
    with handle:
        try:
            numbered = _numbered(csv.reader(handle))
        except (csv.Error, UnicodeDecodeError) as exc:
            raise FeedbackError(f"{path}: not a CSV file ({exc})") from None
    if not numbered:
        raise FeedbackError(f"{path}:1: empty file; the header is {','.join(REQUIRED)}")
    names = _header(path, *numbered[0])
    given, errors, seen = [], [], {}
    for line, row in numbered[1:]:
        try:
            if len(row) != len(names):
                raise FeedbackError(f"{len(row)} field(s), the header has {len(names)}")
            one = _row(dict(zip(names, row, strict=True)), index, analyst)
            aid = one.alert["alert_id"]
            if aid in seen:
                raise FeedbackError(f"alert {aid[:12]} already has a verdict on line {seen[aid]}")
            seen[aid] = line
            given.append(one)
        except FeedbackError as exc:
            errors.append(f"{path}:{line}: {exc}")
    if errors:
        raise FeedbackError("\n".join(errors))
    return given


def _numbered(reader) -> list[tuple[int, list[str]]]:
    """(line number where the record starts, fields) of every record but blanks and comments."""
    found, line = [], 1
    for row in reader:
        if row and "".join(row).strip() and not row[0].lstrip().startswith("#"):
            found.append((line, row))
        line = reader.line_num + 1
    return found


def _say(outcome: str, record: dict, old: dict | None, path: str) -> str:
    what = (f"{record['alert_id'][:12]} {record['verdict']} for {record['entity']} "
            f"(interval {record['interval_start']})")  # fmt: skip
    if outcome == "unchanged":
        return f"unchanged: {what}, already recorded"
    if outcome == "recorded" or old is None:
        return f"recorded: {what}: {path}"
    return f"replaced: {what} (was {old.get('verdict')}: {old.get('reason')}): {path}"


def record_all(lake: str, use_case: str, given: list[VerdictInput]) -> list[str]:
    """Write every verdict (they are all valid by now); one line each saying what happened."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = []
    for one in given:
        record = feedback.verdict_record(one, now)
        outcome, old = feedback.write_record(None, lake, use_case, record)
        path = feedback.verdict_path(lake, use_case, one.alert["alert_id"])
        lines.append(_say(outcome, record, old, path))
    return lines


def list_lines(lake: str, use_case: str) -> list[str]:
    records = feedback.read_records(None, lake, use_case)
    lines = [
        f"{r['alert_id'][:12]} {r['verdict']:<14} {r.get('entity')} interval "
        f"{r.get('interval_start')} until {r.get('until') or 'policy'} by {r.get('analyst')} "
        f"at {r.get('recorded_at')}: {r.get('reason')}"
        for r in records
    ]
    n = feedback.counts(records)
    lines.append(f"{len(records)} verdict(s) for {use_case}: {n[FALSE_POSITIVE]} false positive, "
                 f"{n[TRUE_POSITIVE]} true positive")  # fmt: skip
    return lines


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="botwatch feedback",
        description=__doc__.splitlines()[0],
        epilog="A false positive suppresses the entity's later alerts (until --until, or "
        "alert.false_positive_days) and trains it as human; a true positive trains it as a bot.",
    )
    p.add_argument("--config", required=True, help="use-case YAML file")
    p.add_argument("alert", nargs="?", help="alert id: its sha256 or a unique prefix (8+ chars)")
    kind = p.add_mutually_exclusive_group()
    kind.add_argument(
        "--false-positive", dest="verdict", action="store_const", const=FALSE_POSITIVE
    )
    kind.add_argument("--true-positive", dest="verdict", action="store_const", const=TRUE_POSITIVE)
    p.add_argument("--reason", help="why (shown on every suppression it causes)")
    p.add_argument("--until", type=date.fromisoformat, help="false positive: last data day "
                   "suppressed (YYYY-MM-DD; default alert.false_positive_days)")  # fmt: skip
    p.add_argument("--file", help="CSV labels file: alert_id,verdict,reason[,until][,analyst]")
    p.add_argument("--list", action="store_true", help="print the verdicts recorded")
    p.add_argument("--lake", help="lake root (default: the use case's)")
    p.add_argument("--analyst", default=None, help="who gives the verdict (default: $USER)")
    return p


def _given(args, p, index: AlertIndex, analyst: str) -> list[VerdictInput]:
    if args.file:
        if args.verdict or args.reason or args.until:
            p.error("--file gives each verdict, reason and until itself")
        return read_labels_file(args.file, index, analyst)
    if not args.verdict or not args.reason or not args.reason.strip():
        p.error("give --false-positive or --true-positive, and --reason")
    alert = index.resolve(args.alert)
    verdict = feedback.check_verdict(args.verdict, args.until, alert)
    return [VerdictInput(alert, verdict, " ".join(args.reason.split()), analyst, args.until)]


def main(argv: list[str] | None = None) -> int:
    from spark_jobs.config.loading import load_usecase
    from spark_jobs.errors import ConfigError

    p = parser()
    args = p.parse_args(argv)
    if sum(map(bool, (args.alert, args.file, args.list))) != 1:
        p.error("give one of ALERT_ID, --file or --list")
    try:
        usecase = load_usecase(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    lake = args.lake or usecase.lake_root()
    if args.list:
        print("\n".join(list_lines(lake, usecase.id)))
        return 0
    index = AlertIndex(usecase.id, feedback.read_alerts(lake, usecase.id))
    try:
        given = _given(args, p, index, args.analyst or default_analyst())
    except FeedbackError as exc:
        print(f"botwatch feedback: {exc}" if not args.file else exc, file=sys.stderr)
        return 2
    print("\n".join(record_all(lake, usecase.id, given)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
