"""The regex side of log formats: a format is a list of literals and *roles*, assembled into one
anchored Java regex whose named groups are the roles.

Compiling a format once into a single pattern means the parser runs one regex per line
(``log_parsing`` cuts its groups apart), not one per field. Each group is named after a role
(``client``, ``time``, ``request``, ``status``...), which ``log_parsing`` turns into the
canonical columns; directives with no role are matched and dropped. Anything after the last
directive is kept in the ``extra`` role, so a log with a trailing field nobody declared (nginx
appending ``$http_x_forwarded_for``) still parses. Pure Python: no Spark here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from spark_jobs.errors import LogFormatError

#: A quoted field as Apache and nginx write it: ``"`` and ``\\`` inside are escaped (Apache
#: ``\\"``, nginx ``\\x22``). Possessive quantifiers keep Java's regex from backtracking or
#: recursing through long values (a 1 MB user agent parses without a stack overflow).
QUOTED = r'(?:[^"\\]++|\\.)*+'
_TOKEN = r"\S*+"
_UNQUOTED_TEXT = r'[^"]*?'

#: Roles whose values are free text: inside quotes they take :data:`QUOTED`, bare they can still
#: hold spaces. Every other role is one whitespace-free token.
TEXT_ROLES = frozenset({"request", "referrer", "useragent", "xff", "ignore_text"})
#: Text roles a line may lack at its end (a cut-off or missing user agent); never the request.
OPTIONAL_TAIL_ROLES = TEXT_ROLES - {"request"}

#: ``time`` patterns, as Spark datetime patterns (``Z`` reads ``-0400``; ``XXX`` reads ``Z`` and
#: ``+02:00``), or the ``epoch_*`` markers for numeric times.
CLF_TIME = "dd/MMM/yyyy:HH:mm:ss Z"
ISO_TIME = "iso8601"


@dataclass(frozen=True)
class LineFormat:
    """A compiled line format: one Java regex whose group names are roles.

    ``strict_pattern`` requires every field (format detection scores with it, so a format with
    more fields wins only on lines that have them). ``time_format`` says how to read the
    ``time`` group; ``request_time_unit`` how to turn the ``reqtime`` group into milliseconds
    (``us``, ``ms`` or ``s``).
    """

    name: str
    pattern: str
    strict_pattern: str = ""
    time_format: str = CLF_TIME
    request_time_unit: str | None = None
    source: str = ""
    roles: tuple[str, ...] = field(default=())


def add_literal(pieces: list[tuple[str, str | None]], text: str, apache: bool = True) -> None:
    """Append literal text; in Apache formats a ``%`` left in it is a directive we cannot read."""
    if apache and "%" in text:
        stray = text[text.index("%") :][:12]
        raise LogFormatError(f"cannot read the directive at {stray!r}")
    if text:  # directives back to back (%U%q) have no literal between them
        pieces.append((text, None))


def assemble(
    name: str,
    pieces: list[tuple[str, str | None]],
    time_format: str,
    unit: str | None,
    source: str,
) -> LineFormat:
    """Join literals and role groups into one anchored regex, naming each role once."""
    roles = [role for _, role in pieces if role]
    if not any(r in roles for r in ("time", "timebracket")):
        raise LogFormatError("the format has no time field (%t, $time_local, $time_iso8601, $msec)")
    if not any(r in roles for r in ("request", "urlpath", "target")):
        raise LogFormatError("the format has no request field (%r, %U, $request, $request_uri)")
    seen: set[str] = set()
    fragments: list[str] = []  # one per piece
    for i, (literal, role) in enumerate(pieces):
        if role is None:
            fragments.append(_literal(literal))
            continue
        if role == "timebracket":  # Apache's %t writes its own brackets
            fragments.append(r"\[" + _group("time", r"[^\]]*+", seen) + r"\]")
            continue
        body = _body(role, _between(pieces, i, '"', '"'), _between(pieces, i, "[", "]"))
        if role == "time" and body == _TOKEN and " " in time_format:
            body = _TOKEN + r"(?: \S++){" + str(time_format.count(" ")) + "}"
        elif body == _TOKEN:
            body = _token_before(pieces, i)
        fragments.append(_group(role, body, seen))
    regex = "^" + _with_optional_tail(pieces, fragments) + "$"
    strict = "^" + "".join(fragments) + _EXTRA + "$"
    return LineFormat(
        name=name,
        pattern=regex,
        strict_pattern=strict,
        time_format=time_format,
        request_time_unit=unit,
        source=source,
        roles=tuple(sorted(seen | {"extra"})),
    )


def _group(role: str, body: str, seen: set[str]) -> str:
    """A named group the first time a role appears; later ones (and ignored roles) just match."""
    if role.startswith("ignore") or role in seen:
        return f"(?:{body})"
    seen.add(role)
    return f"(?<{role}>{body})"


_EXTRA = "(?<extra>(?: .*)?)"


def _with_optional_tail(pieces: list[tuple[str, str | None]], fragments: list[str]) -> str:
    """Join fragments, letting the trailing run of quoted text fields be absent or cut off.

    Real logs hold lines whose user agent (or referrer and user agent) is missing, or cut before
    its closing quote by a length limit or a crash; such a line still has everything that
    matters. Only the run of ``"..." "..."`` fields at the very end of the format gets this.
    """
    tail: list[int] = []  # indexes of the trailing quoted text fields
    i = len(pieces) - 2
    if pieces and pieces[-1] == ('"', None):
        while (
            i >= 1 and pieces[i][1] in OPTIONAL_TAIL_ROLES and fragments[i].endswith(QUOTED + ")")
        ):
            tail.insert(0, i)
            sep = pieces[i - 1][0] if pieces[i - 1][1] is None else ""
            if sep != '" "':
                break
            i -= 2
    if not tail or not pieces[tail[0] - 1][0].endswith(' "'):
        return "".join(fragments) + _EXTRA
    head_end = tail[0] - 1
    head = "".join(fragments[:head_end]) + _literal(pieces[head_end][0][:-2])
    inner = fragments[tail[-1]] + '(?:"' + _EXTRA + ")?"
    for idx in reversed(tail[:-1]):
        inner = fragments[idx] + '"(?: "' + inner + ")?"
    return head + '(?: "' + inner + ")?"


def _literal(text: str) -> str:
    """Literal text as a regex; Java reads ``\\Q..\\E`` quoting, but escaping is easier to read."""
    return re.sub(r"([\\.^$|?*+()\[\]{}])", r"\\\1", text)


def _body(role: str, quoted: bool, bracketed: bool) -> str:
    if quoted:
        return QUOTED
    if bracketed:
        return r"[^\]]*+"
    return _UNQUOTED_TEXT if role in TEXT_ROLES else _TOKEN


def _token_before(pieces: list[tuple[str, str | None]], i: int) -> str:
    """A bare token stops at the next literal's first character (``%v:%p`` splits at ``:``)."""
    if i + 1 < len(pieces) and pieces[i + 1][1] is not None:  # two directives back to back
        return r"[^\s?]*+" if pieces[i + 1][1] in ("querystring", "query") else r"\S*?"
    nxt = pieces[i + 1][0][:1] if i + 1 < len(pieces) else ""
    if not nxt or nxt.isspace():
        return _TOKEN
    return r"[^\s" + _literal(nxt) + "]*+"


def _between(pieces: list[tuple[str, str | None]], i: int, left: str, right: str) -> bool:
    before = pieces[i - 1][0] if i > 0 and pieces[i - 1][1] is None else ""
    after = pieces[i + 1][0] if i + 1 < len(pieces) and pieces[i + 1][1] is None else ""
    return before.endswith(left) and after.startswith(right)
