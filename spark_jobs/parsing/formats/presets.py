"""Log formats by name: the presets, JSON lines, and the entry points that compile a user's
format string.

A config names a preset (``combined``, ``vhost_combined``, ``nginx_main``, ``json``...), ``auto``,
or gives the server's own ``LogFormat`` / ``log_format`` string; ``apache_nginx`` compiles
those and ``regex`` assembles the single regex a line is parsed with. Pure Python.
"""

from __future__ import annotations

from spark_jobs.errors import LogFormatError
from spark_jobs.parsing.formats.apache_nginx import compile_apache, compile_nginx, looks_like_nginx
from spark_jobs.parsing.formats.regex import LineFormat

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


def compile_format(log_format: str, name: str = "custom") -> LineFormat:
    """Compile a user's format string, recognising which server's language it is written in."""
    if looks_like_nginx(log_format):
        return compile_nginx(log_format, name)
    return compile_apache(log_format, name)
