"""Log formats: named presets, and Apache ``LogFormat`` / nginx ``log_format`` strings compiled
into one regex with named groups.

Users already describe their logs in these two languages, so botwatch reads them as written
instead of asking for a regex. Compiling a format once into a single pattern means the parser
runs one regex per line (``log_parsing`` cuts its groups apart), not one per field.

Each group is named after a *role* (``client``, ``time``, ``request``, ``status``...), which
``log_parsing`` turns into the canonical columns; directives with no role are matched and
dropped. Anything after the last directive is kept in the ``extra`` role, so a log with a
trailing field nobody declared (nginx appending ``$http_x_forwarded_for``) still parses.
Pure Python: no Spark here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: A quoted field as Apache and nginx write it: ``"`` and ``\\`` inside are escaped (Apache
#: ``\\"``, nginx ``\\x22``). Possessive quantifiers keep Java's regex from backtracking or
#: recursing through long values (a 1 MB user agent parses without a stack overflow).
QUOTED = r'(?:[^"\\]++|\\.)*+'
_TOKEN = r"\S*+"
_UNQUOTED_TEXT = r'[^"]*?'

#: Roles whose values are free text: inside quotes they take :data:`QUOTED`, bare they can still
#: hold spaces. Every other role is one whitespace-free token.
TEXT_ROLES = frozenset({"request", "referrer", "useragent", "xff", "ignore_text"})

#: ``time`` patterns, as Spark datetime patterns (``Z`` reads ``-0400``; ``XXX`` reads ``Z`` and
#: ``+02:00``), or the ``epoch_*`` markers for numeric times.
CLF_TIME = "dd/MMM/yyyy:HH:mm:ss Z"
ISO_TIME = "iso8601"


@dataclass(frozen=True)
class LineFormat:
    """A compiled line format: one Java regex whose group names are roles.

    ``strict_pattern`` requires every field (format detection scores with it, so a format with
    more fields wins only on lines that have them). ``time_format`` says how to read the ``time`` group; ``request_time_unit`` how to turn the
    ``reqtime`` group into milliseconds (``us``, ``ms`` or ``s``).
    """

    name: str
    pattern: str
    strict_pattern: str = ""
    time_format: str = CLF_TIME
    request_time_unit: str | None = None
    source: str = ""
    roles: tuple[str, ...] = field(default=())


class LogFormatError(ValueError):
    """A format string botwatch cannot compile; the message names the directive."""


# --- Apache ---------------------------------------------------------------------------------

#: Apache directive letter (or ``{arg}letter``) -> role. Letters not listed are matched as one
#: token and dropped. See https://httpd.apache.org/docs/current/mod/mod_log_config.html
_APACHE_ROLES = {
    "h": "client",
    "a": "client",
    "l": "ident",
    "u": "authuser",
    "t": "time",
    "r": "request",
    "m": "method",
    "U": "urlpath",
    "q": "querystring",
    "H": "protocol",
    "s": "status",
    "b": "bytes",
    "B": "bytes",
    "O": "bytes",
    "v": "vhost",
    "V": "vhost",
    "p": "port",
    "D": "reqtime",
    "T": "reqtime",
}
_APACHE_HEADERS = {
    "referer": "referrer",
    "referrer": "referrer",
    "user-agent": "useragent",
    "x-forwarded-for": "xff",
    "host": "vhost",
}
#: ``%[<>][status list]{arg}X`` with ``!`` negation; ``%%`` is a literal percent.
_APACHE_DIRECTIVE = re.compile(r"%(?:%|[<>]?!?[0-9,]*(?:\{(?P<arg>[^}]*)\})?(?P<letter>[a-zA-Z]))")

# strftime codes Apache accepts in ``%{...}t`` -> Spark datetime pattern letters.
_STRFTIME = {
    "Y": "yyyy",
    "y": "yy",
    "m": "MM",
    "d": "dd",
    "e": "d",
    "H": "HH",
    "M": "mm",
    "S": "ss",
    "b": "MMM",
    "h": "MMM",
    "z": "Z",
    "j": "DDD",
}


def strftime_to_spark(fmt: str) -> str:
    """Translate the strftime codes logs use into a Spark datetime pattern, or fail loudly."""
    out: list[str] = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            code = fmt[i + 1]
            if code == "%":
                out.append("%")
            elif code in _STRFTIME:
                out.append(_STRFTIME[code])
            elif code == "T":
                out.append("HH:mm:ss")
            elif code == "F":
                out.append("yyyy-MM-dd")
            else:
                raise LogFormatError(f"time code %{code} in {fmt!r} is not supported")
            i += 2
            continue
        out.append(f"'{ch}'" if ch.isalpha() else ("''" if ch == "'" else ch))
        i += 1
    return "".join(out)


def _apache_role(arg: str | None, letter: str) -> tuple[str, str | None, str | None]:
    """(role, time_format, request_time_unit) of one Apache directive."""
    if letter == "i":
        return _APACHE_HEADERS.get((arg or "").lower(), "ignore_text"), None, None
    if letter == "C":
        return "sessionid", None, None
    if letter == "t":
        if arg in (None, ""):
            return "timebracket", CLF_TIME, None
        if arg in ("sec", "msec", "usec"):
            return "time", f"epoch_{arg}", None
        fmt = arg.removeprefix("begin:").removeprefix("end:")
        return "time", strftime_to_spark(fmt), None
    if letter == "T":
        unit = {"ms": "ms", "us": "us", "s": "s", None: "s", "": "s"}.get(arg)
        if unit is None:
            raise LogFormatError(f"%{{{arg}}}T: unit must be s, ms or us")
        return "reqtime", None, unit
    if letter == "D":
        return "reqtime", None, "us"
    if letter == "a" and arg == "c":  # the peer address behind mod_remoteip
        return "client", None, None
    return _APACHE_ROLES.get(letter, "ignore"), None, None


def compile_apache(log_format: str, name: str = "custom") -> LineFormat:
    """Compile an Apache ``LogFormat`` string, as written in httpd.conf (``\\"`` or ``"``)."""
    log_format = _strip_directive(log_format, "LogFormat").replace('\\"', '"')
    pieces: list[tuple[str, str | None]] = []  # (literal, None) or ("", role)
    time_format, unit = CLF_TIME, None
    pos = 0
    for match in _APACHE_DIRECTIVE.finditer(log_format):
        _add_literal(pieces, log_format[pos : match.start()])
        pos = match.end()
        if match.group(0) == "%%":
            pieces.append(("%", None))
            continue
        role, tfmt, tunit = _apache_role(match.group("arg"), match.group("letter"))
        time_format = tfmt or time_format
        unit = tunit or unit
        pieces.append(("", role))
    _add_literal(pieces, log_format[pos:])
    return _assemble(name, pieces, time_format, unit, log_format)


def _add_literal(pieces: list[tuple[str, str | None]], text: str, apache: bool = True) -> None:
    """Append literal text; in Apache formats a ``%`` left in it is a directive we cannot read."""
    if apache and "%" in text:
        stray = text[text.index("%") :][:12]
        raise LogFormatError(f"cannot read the directive at {stray!r}")
    if text:  # directives back to back (%U%q) have no literal between them
        pieces.append((text, None))


def _strip_directive(text: str, keyword: str) -> str:
    """Accept a whole config line pasted in: ``LogFormat "..." nick`` / ``log_format n '...';``."""
    text = text.strip()
    if not text.startswith(keyword):
        return text
    if keyword == "LogFormat":
        match = re.match(r'LogFormat\s+"((?:[^"\\]|\\.)*)"', text)
        return match.group(1) if match else text
    body = text.rstrip(";").split(None, 2)[2] if len(text.split(None, 2)) == 3 else text
    if body.split(None, 1)[0].startswith("escape="):
        body = body.split(None, 1)[1]
    quoted = re.findall(r"'([^']*)'|\"([^\"]*)\"", body)
    return "".join(a or b for a, b in quoted) if quoted else body


# --- nginx ----------------------------------------------------------------------------------

#: nginx variable -> role. See https://nginx.org/en/docs/http/ngx_http_log_module.html
_NGINX_ROLES = {
    "remote_addr": "client",
    "realip_remote_addr": "client",
    "remote_user": "authuser",
    "time_local": "time",
    "time_iso8601": "time",
    "msec": "time",
    "request": "request",
    "request_method": "method",
    "request_uri": "target",
    "uri": "urlpath",
    "document_uri": "urlpath",
    "args": "query",
    "query_string": "query",
    "server_protocol": "protocol",
    "status": "status",
    "body_bytes_sent": "bytes",
    "bytes_sent": "bytes",
    "http_referer": "referrer",
    "http_user_agent": "useragent",
    "http_x_forwarded_for": "xff",
    "request_time": "reqtime",
    "host": "vhost",
    "server_name": "vhost",
    "http_host": "vhost",
    "server_port": "port",
}
_NGINX_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z0-9_]+)\}|(?P<name>[A-Za-z0-9_]+))")


def compile_nginx(log_format: str, name: str = "custom") -> LineFormat:
    """Compile an nginx ``log_format`` string (its quoted parts joined, or the whole directive)."""
    log_format = _strip_directive(log_format, "log_format")
    pieces: list[tuple[str, str | None]] = []
    time_format, unit = CLF_TIME, None
    pos = 0
    for match in _NGINX_VARIABLE.finditer(log_format):
        _add_literal(pieces, log_format[pos : match.start()], apache=False)
        pos = match.end()
        var = match.group("braced") or match.group("name")
        role = _NGINX_ROLES.get(var)
        if role is None:
            role = "sessionid" if var.startswith("cookie_") else "ignore"
            if var.startswith("http_") or var.startswith("sent_http_"):
                role = "ignore_text"
        if var == "time_iso8601":
            time_format = ISO_TIME
        elif var == "msec":
            time_format = "epoch_sec"
        elif var == "request_time":
            unit = "s"
        pieces.append(("", role))
    _add_literal(pieces, log_format[pos:], apache=False)
    return _assemble(name, pieces, time_format, unit, log_format)


# --- assembly -------------------------------------------------------------------------------


def _assemble(
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
        while i >= 1 and pieces[i][1] in TEXT_ROLES and fragments[i].endswith(QUOTED + ")"):
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


# --- presets --------------------------------------------------------------------------------

_COMMON = '%h %l %u %t "%r" %>s %b'
_COMBINED = _COMMON + ' "%{Referer}i" "%{User-Agent}i"'
_NGINX_MAIN = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"'
)
_NGINX_COMBINED = (
    '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
    '"$http_referer" "$http_user_agent"'
)

#: Preset name -> (style, format string). ``combined_extra`` is combined whose trailing fields
#: (one or more, e.g. a ``"-"`` or an X-Forwarded-For) land in ``extra``; every preset keeps
#: such trailing fields, the name just says what the log looks like.
PRESETS: dict[str, tuple[str, str]] = {
    "common": ("apache", _COMMON),
    "combined": ("apache", _COMBINED),
    "combined_extra": ("apache", _COMBINED),
    "vhost_combined": ("apache", "%v:%p " + _COMBINED),
    "vhost_common": ("apache", "%v " + _COMMON),
    "nginx_main": ("nginx", _NGINX_MAIN),
    "nginx_combined": ("nginx", _NGINX_COMBINED),
}
#: For ``format: json``: canonical column -> JSON keys tried in order (ECS first, then nginx
#: ``escape=json`` and fluentd-style names). A config's ``json_fields`` overrides entries.
JSON_DEFAULT_FIELDS: dict[str, tuple[str, ...]] = {
    "time": ("@timestamp", "timestamp", "time", "time_local", "time_iso8601", "date"),
    "client": (
        "source.ip", "client.ip", "source.address", "client.address",
        "remote_addr", "remote_ip", "client_ip", "clientip", "ip",
    ),
    "auth_user": ("user.name", "remote_user", "user"),
    "method": ("http.request.method", "request_method", "method", "verb"),
    "target": ("url.original", "request_uri", "uri", "url", "path"),
    "url_path": ("url.path",),
    "url_query": ("url.query", "args", "query_string"),
    "request": ("request",),
    "protocol": ("server_protocol", "protocol"),
    "http_version": ("http.version", "httpversion"),
    "status": ("http.response.status_code", "status", "status_code", "response"),
    "bytes": (
        "http.response.body.bytes", "http.response.bytes", "body_bytes_sent",
        "bytes_sent", "bytes", "size",
    ),
    "referrer": ("http.request.referrer", "http_referer", "referrer", "referer"),
    "user_agent": ("user_agent.original", "http_user_agent", "user_agent", "agent", "useragent"),
    "vhost": ("url.domain", "http_host", "server_name", "vhost", "host"),
    "session_id": ("session_id", "sessionid"),
    "x_forwarded_for": ("http_x_forwarded_for", "x_forwarded_for", "xff"),
    "request_time_s": ("request_time",),
    "duration_ns": ("event.duration",),
}  # fmt: skip

#: Formats that are not line regexes.
JSON_FORMATS = ("json",)
#: What ``format: auto`` tries, most specific first (ties go to the earlier one). nginx's formats
#: parse exactly like combined / combined_extra, so they are not candidates of their own.
AUTO_CANDIDATES = ("json", "vhost_combined", "combined", "vhost_common", "common")
FORMAT_NAMES = (*PRESETS, *JSON_FORMATS, "auto")


def preset(name: str) -> LineFormat:
    """The compiled preset ``name``."""
    try:
        style, text = PRESETS[name]
    except KeyError:
        raise LogFormatError(f"unknown format {name!r}; known: {', '.join(FORMAT_NAMES)}") from None
    compile_fn = compile_apache if style == "apache" else compile_nginx
    return compile_fn(text, name=name)


def looks_like_nginx(log_format: str) -> bool:
    """nginx formats use ``$variables``; Apache ones ``%directives``."""
    return bool(_NGINX_VARIABLE.search(log_format)) and not _APACHE_DIRECTIVE.search(log_format)


def compile_format(log_format: str, name: str = "custom") -> LineFormat:
    """Compile a user's format string, recognising which server's language it is written in."""
    if looks_like_nginx(log_format):
        return compile_nginx(log_format, name)
    return compile_apache(log_format, name)
