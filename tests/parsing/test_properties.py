"""Property-based tests: whatever the input, parsing never crashes and accounts for every line,
and any line a server writes in a format botwatch compiled parses back to the values written.

Each example costs a Spark job, so examples are batched (many lines per example) and few.
"""

from __future__ import annotations

import gzip
import string
from datetime import datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_jobs.parsing.files import parse_files
from spark_jobs.parsing.formats.presets import compile_format
from spark_jobs.parsing.lines import parse_lines
from spark_jobs.parsing.schema import REASONS
from spark_jobs.parsing.sources import list_files

SETTINGS = settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
VALID = '1.2.3.4 - - [05/Mar/2024:10:00:00 +0000] "GET /a?b=1 HTTP/1.1" 200 5 "-" "curl/8"'
# Characters that matter to the parser, plus anything Unicode (minus surrogates).
NASTY = st.sampled_from(list('"\\[] -\t\r\x00\x1f\x7f?%:/'))
TEXT = st.text(st.one_of(NASTY, st.characters(exclude_categories=("Cs",))), max_size=200)


@st.composite
def mutated_line(draw) -> str:
    """A valid line with a few random edits: deletions, insertions, replacements, a cut."""
    line = draw(st.sampled_from([VALID, VALID.replace("curl/8", 'a \\"quoted\\" agent')]))
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(line)))
        op = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        piece = draw(TEXT.filter(lambda t: "\n" not in t).map(lambda t: t[:5]))
        if op == "delete":
            line = line[:i] + line[i + 3 :]
        elif op == "insert":
            line = line[:i] + piece + line[i:]
        elif op == "replace":
            line = line[:i] + piece + line[i + len(piece) :]
        else:
            line = line[:i]
    return line


def _df(spark, lines):
    return spark.createDataFrame(
        [(line, "f") for line in lines], "value string, source_file string"
    )


@SETTINGS
@given(lines=st.lists(st.one_of(mutated_line(), TEXT.filter(lambda t: "\n" not in t)), max_size=60))
def test_any_lines_are_parsed_or_quarantined_never_lost(spark, lines):
    for fmt in ("combined", "json"):
        # One job per format: a parsed line has no reason and a time; any other has a reason.
        rows = parse_lines(_df(spark, lines), fmt).select("reason", "ts").collect()
        assert len(rows) == len(lines)
        assert all((r.reason is None) == (r.ts is not None) or r.reason for r in rows)
        assert {r.reason for r in rows} <= {None, *REASONS, "not_json"}


# --- round trip: a line written in a compiled format parses back --------------------------

TOKEN = st.text(string.ascii_letters + string.digits + "._:-/", min_size=1, max_size=20).filter(
    lambda t: t != "-"
)
# Quoted text as Apache writes it: printable, with " and \ escaped by a backslash.
QUOTED_TEXT = (
    st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0x2FFF, exclude_categories=("Cs",)),
        min_size=1,
        max_size=60,
    )
    .map(lambda t: t.replace("\\", "\\\\").replace('"', '\\"'))
    .filter(lambda t: t != "-")
)

FIELDS = {  # directive -> (column, value strategy, quoted)
    "%v": ("vhost", TOKEN, False),
    "%h": ("client", TOKEN, False),
    "%u": ("auth_user", TOKEN, False),
    "%>s": ("status", st.integers(100, 599).map(str), False),
    "%b": ("bytes", st.integers(0, 10**12).map(str), False),
    "%{Referer}i": ("referrer", QUOTED_TEXT, True),
    "%{User-Agent}i": ("user_agent", QUOTED_TEXT, True),
    "%{sid}C": ("session_id", TOKEN, False),
    "%{X-Forwarded-For}i": ("x_forwarded_for", QUOTED_TEXT, True),
}


@st.composite
def format_and_lines(draw):
    """A random Apache format (time and request always in), and lines written in it."""
    chosen = draw(st.lists(st.sampled_from(sorted(FIELDS)), unique=True, max_size=len(FIELDS)))
    directives = [*chosen, "%t", '"%r"']
    order = draw(st.permutations(directives))
    fmt = " ".join(d if d in ("%t", '"%r"') or not FIELDS[d][2] else f'"{d}"' for d in order)
    rows = []
    for _ in range(draw(st.integers(1, 8))):
        values, parts = {}, []
        for d in order:
            if d == "%t":
                moment = draw(st.datetimes(datetime(2000, 1, 1), datetime(2030, 1, 1)))
                moment = moment.replace(microsecond=0)
                values["ts"] = moment
                parts.append(f"[{moment:%d/%b/%Y:%H:%M:%S} +0000]")
            elif d == '"%r"':
                method = draw(st.sampled_from(["GET", "POST", "HEAD", "PROPFIND"]))
                path = "/" + draw(TOKEN)
                values.update(method=method, path=path)
                parts.append(f'"{method} {path} HTTP/1.1"')
            else:
                column, strategy, quoted = FIELDS[d]
                value = draw(strategy)
                values[column] = int(value) if column in ("status", "bytes") else value
                parts.append(f'"{value}"' if quoted else value)
        rows.append((" ".join(parts), values))
    return fmt, rows


@SETTINGS
@given(case=format_and_lines())
def test_lines_written_in_a_compiled_format_parse_back(spark, case):
    fmt, rows = case
    compiled = compile_format(fmt)
    got = parse_lines(_df(spark, [line for line, _ in rows]), compiled).collect()
    for (line, values), row in zip(rows, got, strict=True):
        assert row.reason is None, (fmt, line)
        for column, value in values.items():
            assert row[column] == value, (fmt, line, column)


# --- files: empty, truncated .gz, NUL bytes, 1 MB lines ---------------------------------


@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    lines=st.lists(
        st.one_of(mutated_line(), st.just("x" * 1_000_000), st.just("\x00" * 10)), max_size=8
    ),
    cut=st.one_of(st.none(), st.floats(0.1, 0.9)),
)
def test_files_of_any_shape_account_for_every_line(spark, tmp_path_factory, lines, cut):
    folder = tmp_path_factory.mktemp("files")
    (folder / "empty.log").write_bytes(b"")
    data = gzip.compress("".join(line + "\n" for line in lines).encode("utf-8", "surrogatepass"))
    if cut is not None:
        data = data[: max(20, int(len(data) * cut))]
    (folder / "lines.log.gz").write_bytes(data)
    source = parse_files(spark, list_files(spark, str(folder / "*")), "combined")
    source.unpersist()
    by_name = {a.source_file.rsplit("/", 1)[1]: a for a in source.accounts}
    assert by_name["empty.log"].read == 0
    acc = by_name["lines.log.gz"]
    assert acc.read == acc.parsed + acc.quarantined
    if not acc.truncated:
        assert acc.read == len(lines)
    else:
        assert acc.read - 1 <= len(lines)  # lines before the damage, plus the damage itself
