"""Typed readers of environment variables; each failure names its variable."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from ._errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class EnvReader:
    """Reads one environment mapping; blank values count as unset."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._env = environ

    def raw(self, name: str) -> str | None:
        value = self._env.get(name)
        if value is None or not value.strip():
            return None
        return value.strip()

    def text(self, name: str, default: str | None = None) -> str | None:
        value = self.raw(name)
        return default if value is None else value

    def required(self, name: str) -> str:
        value = self.raw(name)
        if value is None:
            raise ConfigError(name, "is required")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(name, f"expected true or false, got {value!r}")

    def json_value(self, name: str) -> Any:
        value = self.raw(name)
        if value is None:
            return None
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ConfigError(name, f"is not valid JSON ({exc.msg} at position {exc.pos})") from None

    def names(self, name: str) -> list[str]:
        """A comma-separated list of names, blanks dropped."""
        value = self.raw(name)
        if value is None:
            return []
        return [item.strip() for item in value.split(",") if item.strip()]

    def first_of(self, *names: str) -> tuple[str, str] | None:
        """The first of several variable names that is set, with its value."""
        for name in names:
            value = self.raw(name)
            if value is not None:
                return name, value
        return None


def check_url(variable: str, value: str, schemes: tuple[str, ...] = ("http", "https")) -> None:
    """Raise `ConfigError` unless `value` is an absolute URL with one of `schemes` and a host."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise ConfigError(variable, f"{value!r} is not a valid URL ({exc})") from None
    if parts.scheme not in schemes or not parts.hostname:
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ConfigError(variable, f"expected an absolute {wanted} URL, got {value!r}")
