"""What kind of resource a request path asks for: the one home of every path rule.

Pure Python (no Spark), so the rules are the same wherever they are read: the enrichment columns
``extension`` and ``path_class`` (``features.enrichment``), the per-session resource shares
(``features.behaviour``: ``static_share`` counts exactly the ``path_class`` ``static`` requests,
``image_share`` / ``css_share`` / ``js_share`` the static ones with those extensions), and the
docs and configs that cite the lists.

The lists are the documented contract of ``path_class``. Each path is lower-cased and stripped
of ``scheme://host`` (proxy-style requests) first; the first rule that matches wins, in order:

* ``sensitive``: a segment anywhere named in ``SENSITIVE_NAMES``, bare or with one of
  ``SCRIPT_EXTENSIONS`` (``/blog/wp-login.php``, ``/admin``, ``/config.json``); a hidden segment
  (``/.env``, ``/.git/config``, ``/../``) other than ``/.well-known/``; an extension in
  ``SENSITIVE_EXTENSIONS`` (backups, dumps); or a fragment in ``SENSITIVE_FRAGMENTS``.
* ``api``: a segment named in ``API_NAMES`` (same shape), or an extension in ``API_EXTENSIONS``.
* ``static``: an extension in ``STATIC_EXTENSIONS``: images, icons, css, js, source maps, fonts,
  audio and video. Audio and video are static because they are resources a page embeds, not
  pages someone navigates to; documents and archives (pdf, zip) are content someone asked
  for: ``page``.
* ``page``: any other path, ``/`` and ``.html`` / ``.php`` / extension-less ones included.
* ``other``: no path (a garbage request line such as ``"-"``).

The extension is that of the last segment without ``;params``, after its leading dots
(``.env`` has none), lower-cased, at most ``MAX_EXTENSION`` characters.
"""

from __future__ import annotations

import re

PATH_CLASSES = ("sensitive", "api", "static", "page", "other")

SENSITIVE_NAMES = (
    "admin", "administrator", "wp-admin", "wp-login", "wp-config", "xmlrpc", "login", "signin",
    "phpmyadmin", "pma", "myadmin", "mysqladmin", "adminer", "cgi-bin", "server-status",
    "server-info", "web-inf", "meta-inf", "config", "configuration", "shell", "cmd", "c99",
    "r57", "wso", "phpinfo", "eval-stdin", "phpunit", "actuator", "boaform", "hnap1",
)  # fmt: skip
SCRIPT_EXTENSIONS = (
    "php", "php5", "phtml", "asp", "aspx", "jsp", "do", "action", "cgi", "pl", "py", "sh",
    "html", "htm", "json", "xml", "yml", "yaml", "ini", "conf", "inc", "bak", "old", "txt",
)  # fmt: skip
SENSITIVE_EXTENSIONS = (
    "bak", "old", "orig", "save", "swp", "sql", "sqlite", "env", "ini", "pem",
    "ida", "idq", "htr", "htw", "printer",  # IIS handlers the Code Red era's worms probe
)  # fmt: skip
#: Traversal and shell probes (the encoded ``..\`` and overlong-UTF-8 ``/`` of Nimda-style
#: worms, Windows shells) besides the Unix ones.
SENSITIVE_FRAGMENTS = (
    "etc/passwd", "proc/self/", "win.ini", "%2e%2e", "wp-config", "..%5c", "%255c", "%252f",
    "%c0%af", "%c0%2f", "%c1%1c", "%c1%9c", "cmd.exe", "root.exe", "system32/",
)  # fmt: skip
API_NAMES = ("api", "apis", "graphql", "wp-json", "rest", "jsonrpc")
API_EXTENSIONS = ("json",)

#: The static kinds the resource shares tell apart (``image_share``, ``css_share``, ``js_share``).
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "svg", "ico", "webp", "bmp", "tif", "tiff")
STYLE_EXTENSIONS = ("css",)
JS_EXTENSIONS = ("js", "mjs")
FONT_EXTENSIONS = ("woff", "woff2", "ttf", "otf", "eot")
MEDIA_EXTENSIONS = (
    "mp3", "mp4", "m4a", "m4v", "ogg", "oga", "ogv", "wav", "flac", "webm", "mov", "avi",
    "mpg", "mpeg", "flv", "swf",
)  # fmt: skip
STATIC_EXTENSIONS = (
    *IMAGE_EXTENSIONS, "cur", "avif", *STYLE_EXTENSIONS, *JS_EXTENSIONS, "map",
    *FONT_EXTENSIONS, *MEDIA_EXTENSIONS,
)  # fmt: skip
MAX_EXTENSION = 10

#: A login-like path (``login_post_share``): a last segment login, signin, logon, auth,
#: session(s), wp-login, xmlrpc or administrator, with or without an extension or a trailing
#: ``/index.<ext>``, matched on the lower-cased path.
LOGIN_PATH = (
    r"(^|/)(login|log-in|signin|sign-in|logon|auth|authenticate|session|sessions|wp-login"
    r"|xmlrpc|administrator)(\.[a-z0-9]+)?(/(index\.[a-z0-9]+)?)?$"
)


def alternation(words: tuple[str, ...]) -> str:
    """A non-capturing regex group matching any of ``words`` literally."""
    return "(?:" + "|".join(re.escape(w) for w in words) + ")"


def named_segment(names: tuple[str, ...]) -> str:
    """A path segment named ``names``, bare or with one of ``SCRIPT_EXTENSIONS``, on a
    normalised path (which always starts with ``/``)."""
    return rf"/{alternation(names)}(?:\.{alternation(SCRIPT_EXTENSIONS)})?(?:/|$)"


SENSITIVE_NAME_PATTERN = named_segment(SENSITIVE_NAMES)
API_NAME_PATTERN = named_segment(API_NAMES)
#: A hidden segment (``/.env``, ``/..``) other than ``/.well-known/``.
HIDDEN_PATTERN = r"/\.(?!well-known(?:/|$))[^/]"
