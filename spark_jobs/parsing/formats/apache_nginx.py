"""Apache ``LogFormat`` and nginx ``log_format`` strings, read as their servers define them.

Users already describe their logs in these two languages, so botwatch reads the string from the
server's config instead of asking for a regex. Each directive / variable maps to a role (see
``format_regex``); those without a role are matched and dropped, so any format the server can
write compiles. A ``%`` letter Apache does not define is an error: no server wrote it. Pure
Python: no Spark here.
"""

from __future__ import annotations

import re

from spark_jobs.errors import LogFormatError
from spark_jobs.parsing.formats.regex import CLF_TIME, ISO_TIME, LineFormat, add_literal, assemble

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
#: Every directive letter of mod_log_config (httpd 2.4). Apache refuses to start on any other,
#: so a log cannot have been written with one: it is a typo, and reading it as some unknown
#: token would silently shift or drop the fields after it.
APACHE_LETTERS = frozenset("aAbBCDefhHiIklLmnoOpPqrRsStTuUvVX")
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
        add_literal(pieces, log_format[pos : match.start()])
        pos = match.end()
        if match.group(0) == "%%":
            pieces.append(("%", None))
            continue
        if match.group("letter") not in APACHE_LETTERS:
            raise LogFormatError(
                f"{match.group(0)} is not an Apache LogFormat directive; known letters: "
                + " ".join(
                    f"%{letter}" for letter in sorted(APACHE_LETTERS, key=lambda c: (c.lower(), c))
                )
            )
        role, tfmt, tunit = _apache_role(match.group("arg"), match.group("letter"))
        time_format = tfmt or time_format
        unit = tunit or unit
        pieces.append(("", role))
    add_literal(pieces, log_format[pos:])
    return assemble(name, pieces, time_format, unit, log_format)


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
        add_literal(pieces, log_format[pos : match.start()], apache=False)
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
    add_literal(pieces, log_format[pos:], apache=False)
    return assemble(name, pieces, time_format, unit, log_format)


def looks_like_nginx(log_format: str) -> bool:
    """nginx formats use ``$variables``; Apache ones ``%directives``."""
    return bool(_NGINX_VARIABLE.search(log_format)) and not _APACHE_DIRECTIVE.search(log_format)
