"""Short, one-line text and readable numbers, for everything botwatch shows people.

Log content reaches ledgers, mails, Slack, HTML and markdown; each of those used to cap and
format on its own and drifted apart. One home keeps a capped user agent or a feature value
looking the same wherever it lands. Pure Python: the sinks, the Spark stages and the reports
all import it, and none of them should pay for more than ``re`` and ``math``.
"""

from __future__ import annotations

import math
import re
from typing import Any, overload

ELLIPSIS = "…"
#: What a missing metric shows in a table: an en dash, not "None" or "nan".
DASH = "–"

_LINE_BREAKS = "\n\r\x0b\x0c\x85\u2028\u2029"
_BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROLS = [*map(chr, range(32)), "\x7f", *map(chr, range(128, 160))]
_ONE_LINE = str.maketrans(
    {
        **dict.fromkeys(_CONTROLS, " "),
        **dict.fromkeys(_LINE_BREAKS, "⏎"),
        **dict.fromkeys(_BIDI, ""),
    }
)
# C0/C1 controls, line/paragraph separators, bidi overrides and invisible format characters:
# each could reorder, hide or split what the reader sees.
_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


@overload
def cap(text: str, limit: int, ellipsis: str = ELLIPSIS) -> str: ...
@overload
def cap(text: None, limit: int, ellipsis: str = ELLIPSIS) -> None: ...
def cap(text: str | None, limit: int, ellipsis: str = ELLIPSIS) -> str | None:
    """``text`` cut to at most ``limit`` characters, ending in ``ellipsis`` when it was cut, so
    a reader sees that something is missing. None stays None (an absent field stays absent)."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - len(ellipsis)] + ellipsis if limit > 0 else ""


def squash(text: str) -> str:
    """Runs of whitespace (newlines included) as one space: exception messages and reprs span
    lines, a ledger detail or a log summary must not."""
    return " ".join(text.split())


def one_line(text: Any, limit: int = 500) -> str:
    """``text`` on one visible line: line breaks become "⏎", other control characters a space
    (bidi overrides vanish, so a name cannot be shown reversed), then capped to ``limit``.

    Unlike ``squash`` the break stays visible: a newline inside a user agent is evidence.
    """
    text = "" if text is None else str(text)
    return cap(text.replace("\r\n", "\n").translate(_ONE_LINE), limit)


def show_controls(text: str) -> str:
    """Invisible and control characters as visible escapes (``\\n``, ``\\u202e``), for a
    report that must show exactly what a client sent without letting it reorder the page."""
    return _INVISIBLE.sub(lambda m: _NAMED.get(m[0]) or f"\\u{ord(m[0]):04x}", text)


def fmt_num(value: Any, none: str = "") -> str:
    """A number as a person reads it: 1 not 1.0, 0.56, 99.6, 1234.6; ``none`` for None and
    anything else as one short line (a feature value is not always a number)."""
    if value is None:
        return none
    if isinstance(value, bool) or not isinstance(value, int | float):
        return one_line(value, 40)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.1f}" if abs(value) >= 100 else f"{value:.3g}"


def fmt_spec(value: Any, spec: str = ",") -> str | None:
    """``value`` through ``format(value, spec)`` (ints as ints, anything else as a float);
    None when it is None or not a number, so the caller decides what to show instead."""
    if value is None:
        return None
    try:
        return format(value if isinstance(value, int) else float(value), spec)
    except (TypeError, ValueError):
        return None


def fmt_fixed(value: float | None, digits: int = 3, none: str = DASH) -> str:
    """Fixed decimals, so a column of metrics lines up: 0.917, 1.000."""
    return none if value is None else f"{value:.{digits}f}"


def fmt_pct(fraction: float | None, none: str = DASH) -> str:
    """A fraction as a percentage with 3 significant digits: 0.02 -> 2%, 0.0013 -> 0.13%."""
    return none if fraction is None else f"{fraction * 100:.3g}%"
