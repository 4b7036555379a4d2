"""Credentials out of every URL PAIS prints or serves."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["redact_urls"]

_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_SECRET_PARAM = re.compile(r"key|token|secret|password|passwd|pwd|auth|credential|signature|sig", re.IGNORECASE)
_HIDDEN = "***"


def _redact_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:{_HIDDEN}@{host}" if ":" in userinfo else f"{_HIDDEN}@{host}"
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            if any(_SECRET_PARAM.search(name) for name, _ in pairs):
                query = urlencode(
                    [(name, _HIDDEN if _SECRET_PARAM.search(name) else value) for name, value in pairs], safe="*"
                )
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:  # not parseable as a URL: hide all of it rather than risk a leak
        return f"{url.split('://', 1)[0]}://{_HIDDEN}"


def redact_urls(text: str) -> str:
    """`text` with the password (or bare token) of every URL's userinfo and its secret-looking query
    parameters (`key`, `token`, `secret`, `password`, `sig`...) replaced by `***`."""
    return _URL.sub(lambda match: _redact_url(match.group(0)), text)
