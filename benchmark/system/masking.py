"""Passwords out of everything this project prints, logs or records: the one place that
masks them, used by the tracking module (params, tags, failure reasons) and by the
search (storage and tracking URLs in lines, tags and study attributes)."""

from __future__ import annotations

import re

# `scheme://user:password@` in free text: the user part stops at ':', '/' or '@' and the
# password runs to the first '@', as in SQLAlchemy's URL grammar (which accepts '/', '?'
# and '#' in a password unescaped, where urllib would end the host part early).
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*):[^@\s]*@")
MASK = "***"


def mask_secrets(text: str) -> str:
    """Free text (an error message, a tag, a log line) with the password of every URL in
    it replaced by ``***`` (:func:`mask_url` masks one known URL)."""
    return _URL_PASSWORD.sub(rf"\g<head>:{MASK}@", text)


def mask_url(url: str) -> str:
    """A storage or tracking URL with its password replaced by ``***``.

    SQLAlchemy's own parser is used first because it accepts passwords that a generic
    URL parser splits at ``/``, ``?`` or ``#``."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.password is not None:
            return parsed.render_as_string(hide_password=True)
        if "@" not in url:
            return url
    except Exception:  # noqa: BLE001 - not an SQLAlchemy URL (an http tracking URI, say)
        pass
    return mask_secrets(url)
