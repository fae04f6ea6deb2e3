"""A real log shipper in front of ingest: Debian's rsyslog writes the landing folder ingest reads.

rsyslogd runs on loopback with the repo's own config (``tests/shippers/rsyslog.conf.template``).
Real access-log lines of the bundled sample, restamped into 10:xx and 11:xx UTC of one day, go to
it as RFC 5424 syslog messages over TCP (RFC 6587 octet-counting and LF framing), and it writes
them into ``LANDING/YYYY/MM/DD/access-HH.log`` by their syslog time in UTC. The ingest stage then
runs in-process for 10:00-11:00 with ``source.path`` placeholders that pick exactly that hour's
file. docs/shippers.md has this recipe and the fluent-bit and syslog-ng ones (not run here).
"""

from __future__ import annotations

import gzip
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from spark_jobs import ingest
from spark_jobs.lake import layout
from tests.support.builders import run_record, stage_args, usecase_yaml
from tests.support.paths import REPO, SAMPLE_LOG

RSYSLOGD = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")
pytestmark = pytest.mark.skipif(
    RSYSLOGD is None,
    reason="rsyslogd is not installed (apt-get install rsyslog; .ci/run installs it)",
)

CONF_TEMPLATE = REPO / "tests/shippers/rsyslog.conf.template"
USE_CASE = "shipper_test"
HOUR_10 = datetime(2024, 3, 5, 10, tzinfo=UTC)
HOUR_11 = HOUR_10 + timedelta(hours=1)
# The hour's own file only: {start:%H} of the 10:00-11:00 interval is 10.
HOURLY_PATH = "{landing}/{{start:%Y}}/{{start:%m}}/{{start:%d}}/access-{{start:%H}}.log"
# The hour's file and the next one (a Hadoop {a,b} glob), for lines logged after the hour ended.
TWO_HOURS_PATH = "{landing}/{{{{start:%Y/%m/%d/access-%H}},{{end:%Y/%m/%d/access-%H}}}}.log"
GARBAGE = "this is not an access log line"
# rsyslogd's local zone is not UTC on purpose: the landing folders must not depend on it.
RSYSLOGD_TZ = "IST-05:30"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_TIME = re.compile(r"\[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]")
_REQUEST = re.compile(r'^(\S+) \S+ \S+ \[[^\]]+\] "(\S+) (\S+)[^"]*" (\d{3}) ')


@dataclass(frozen=True)
class Sent:
    """One syslog message: its payload (what the landing file must hold) and its header time."""

    line: str
    header_time: datetime

    def syslog(self) -> bytes:
        """RFC 5424: <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG (local0.info)."""
        stamp = self.header_time.isoformat().replace("+00:00", "Z")
        return f"<134>1 {stamp} web1 apache - - - {self.line}".encode()


def _apache_time(at: datetime) -> str:
    """Apache's %t, independent of the process locale."""
    return f"[{at:%d}/{MONTHS[at.month - 1]}/{at:%Y:%H:%M:%S %z}]"


def _restamp(line: str, at: datetime) -> Sent:
    return Sent(_TIME.sub(lambda _: _apache_time(at), line, count=1), at)


def _sample_lines() -> list[str]:
    """50 real lines: the longest one, one with \\x escapes, and every 200th of the sample."""
    with gzip.open(SAMPLE_LOG, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    longest = max(lines, key=len)
    escaped = next(line for line in lines if "\\x" in line)
    return [longest, escaped, *lines[::200][:48]]


def _spread(i: int, n: int) -> timedelta:
    """The i-th of n times spread over an hour, from :00:00 to :59:59."""
    return timedelta(seconds=round(i * 3599 / (n - 1)))


def _messages() -> dict[str, list[Sent]]:
    """Per TCP connection, the messages sent, each stamped in 10:xx or 11:xx UTC."""
    sample = _sample_lines()
    hour_10 = [_restamp(line, HOUR_10 + _spread(i, 30)) for i, line in enumerate(sample[:30])]
    # A sender in +02:00: 12:22 local is 10:22 UTC, so it must land in the 10:xx file.
    plus_two = timezone(timedelta(hours=2))
    hour_10[7] = _restamp(sample[7], hour_10[7].header_time.astimezone(plus_two))
    hour_10.insert(15, Sent(GARBAGE, HOUR_10 + timedelta(minutes=42)))
    hour_11 = [_restamp(line, HOUR_11 + _spread(i, 20)) for i, line in enumerate(sample[30:])]
    # A slow request: Apache stamps when it arrived (10:59:58), its log line (and so its syslog
    # time) is written when it ends (11:00:01), so rsyslog files it under 11:xx.
    late = _restamp(sample[0], HOUR_11 - timedelta(seconds=2))
    hour_11.append(Sent(late.line, HOUR_11 + timedelta(seconds=1)))
    return {"octet-counted": hour_10, "lf-framed": hour_11}


def _frame(message: bytes, framing: str) -> bytes:
    """RFC 6587 framing: octet-counting or a trailing LF."""
    return b"%d %s" % (len(message), message) if framing == "octet-counted" else message + b"\n"


def _wait_for(condition, what: str, proc: subprocess.Popen, workdir: Path, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None or time.monotonic() > deadline:
            state = "exited" if proc.poll() is not None else "still runs"
            logs = "\n".join(
                f"--- {p.name}:\n{p.read_text(errors='replace')}"
                for p in sorted(workdir.glob("*.log"))
            )
            written = sorted(str(p) for p in workdir.parent.rglob("*.log") if p.parent != workdir)
            pytest.fail(f"rsyslogd ({state}) did not get to: {what}\nfiles: {written}\n{logs}")
        time.sleep(0.1)


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _line_count(path: Path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@dataclass(frozen=True)
class Shipped:
    landing: Path
    hour_10: list[Sent]
    hour_11: list[Sent]


@pytest.fixture(scope="module")
def shipped(tmp_path_factory) -> Shipped:
    """Start rsyslogd, send the messages, wait until both hour files hold them, stop it."""
    root = tmp_path_factory.mktemp("shipper")
    workdir, landing = root / "rsyslog", root / "landing"
    workdir.mkdir()
    landing.mkdir()
    conf = root / "rsyslog.conf"
    filled = CONF_TEMPLATE.read_text(encoding="utf-8")
    values = {"WORKDIR": workdir, "LANDING": landing, "ADDRESS": "127.0.0.1", "PORT": 0}
    for key, value in values.items():
        filled = filled.replace(f"@{key}@", str(value))
    conf.write_text(filled, encoding="utf-8")
    messages = _messages()
    port_file = workdir / "imtcp.port"

    with open(workdir / "stderr.log", "wb") as out:
        proc = subprocess.Popen(
            [RSYSLOGD, "-n", "-f", str(conf), "-i", str(workdir / "rsyslogd.pid")],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "TZ": RSYSLOGD_TZ},
        )
    try:
        # port="0": rsyslogd binds a free port and writes its number to the port file.
        _wait_for(lambda: _read(port_file).strip().isdigit(), "listening", proc, workdir)
        port = int(port_file.read_text())
        for framing, sent in messages.items():
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(b"".join(_frame(m.syslog(), framing) for m in sent))
        day = landing / "2024/03/05"
        hour_10, hour_11 = messages["octet-counted"], messages["lf-framed"]
        _wait_for(
            lambda: (
                _line_count(day / "access-10.log") >= len(hour_10)
                and _line_count(day / "access-11.log") >= len(hour_11)
            ),
            "writing every message to the landing files",
            proc,
            workdir,
        )
        # SIGTERM closes the files: the hour is over, as when a real interval is ingested.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Shipped(landing, hour_10, hour_11)


def _config(tmp_path: Path, source_path: str) -> Path:
    return usecase_yaml(
        tmp_path, USE_CASE, description="access logs shipped by rsyslog",
        schedule="0 * * * *", start_date=date(2024, 3, 5),
        source={"path": source_path, "format": "combined"},
    )  # fmt: skip


def _ingest_hour_10(spark, tmp_path: Path, source_path: str) -> tuple[dict, str]:
    lake_root = str(tmp_path / "lake")
    argv = stage_args(_config(tmp_path, source_path), HOUR_10, HOUR_11, lake_root)
    assert ingest.main(argv) == 0
    return run_record(spark, lake_root, USE_CASE, HOUR_10, "ingest"), lake_root


def _expected_rows(sent: list[Sent]) -> list[tuple]:
    """(epoch seconds, client, method, path, status) of each access line, from its own text."""
    rows = []
    for message in sent:
        if (m := _REQUEST.match(message.line)) is None:
            continue
        epoch = int(message.header_time.timestamp())
        rows.append((epoch, m[1], m[2], m[3].split("?")[0], int(m[4])))
    return sorted(rows)


def _parsed_rows(spark, lake_root: str) -> list[tuple]:
    parsed = spark.read.parquet(layout.partition_path(lake_root, "parsed", USE_CASE, HOUR_10))
    cols = [F.unix_timestamp("ts"), "client", "method", "path", "status"]
    return sorted(tuple(row) for row in parsed.select(*cols).collect())


def test_rsyslog_writes_the_raw_lines_into_hourly_files_by_utc_syslog_time(shipped):
    files = sorted(p.relative_to(shipped.landing).as_posix() for p in shipped.landing.rglob("*"))
    assert files == ["2024", "2024/03", "2024/03/05"] + [
        f"2024/03/05/access-{hour}.log" for hour in ("10", "11")
    ]
    day = shipped.landing / "2024/03/05"
    # Byte for byte the lines sent: no syslog header, no escaping, no cut long line.
    expected_10 = "".join(m.line + "\n" for m in shipped.hour_10)
    assert (day / "access-10.log").read_text(encoding="utf-8") == expected_10
    expected_11 = "".join(m.line + "\n" for m in shipped.hour_11)
    assert (day / "access-11.log").read_text(encoding="utf-8") == expected_11


def test_ingest_reads_only_the_hour_file_of_its_interval(spark, shipped, tmp_path):
    source_path = HOURLY_PATH.format(landing=shipped.landing)
    record, lake_root = _ingest_hour_10(spark, tmp_path, source_path)

    sent_10 = len(shipped.hour_10)  # 30 access lines and the garbage line
    counts = {k: record[k] for k in ("read", "parsed", "quarantined", "out_of_window")}
    assert counts == {"read": sent_10, "parsed": sent_10 - 1, "quarantined": 1, "out_of_window": 0}
    [per_file] = record["files"]
    assert per_file["source_file"].endswith("/2024/03/05/access-10.log")

    assert _parsed_rows(spark, lake_root) == _expected_rows(shipped.hour_10)
    quarantine = spark.read.parquet(
        layout.partition_path(lake_root, "quarantine", USE_CASE, HOUR_10)
    )
    [bad] = quarantine.collect()
    assert bad.line == GARBAGE
    assert bad.reason
    assert bad.source_file.endswith("/2024/03/05/access-10.log")


def test_reading_the_next_hour_file_too_keeps_a_line_logged_after_the_hour(
    spark, shipped, tmp_path
):
    source_path = TWO_HOURS_PATH.format(landing=shipped.landing)
    record, lake_root = _ingest_hour_10(spark, tmp_path, source_path)

    late = shipped.hour_11[-1]
    sent_10, sent_11 = len(shipped.hour_10), len(shipped.hour_11)
    counts = {k: record[k] for k in ("read", "parsed", "quarantined", "out_of_window")}
    assert counts == {
        "read": sent_10 + sent_11,
        "parsed": sent_10 - 1 + 1,  # the hour's access lines and the late one
        "quarantined": 1,
        "out_of_window": sent_11 - 1,  # 11:xx lines are the next run's
    }
    assert [f["source_file"].rsplit("/", 1)[1] for f in record["files"]] == [
        "access-10.log",
        "access-11.log",
    ]
    late_row = (int(HOUR_11.timestamp()) - 2, *_expected_rows([late])[0][1:])
    assert _parsed_rows(spark, lake_root) == sorted([*_expected_rows(shipped.hour_10), late_row])
