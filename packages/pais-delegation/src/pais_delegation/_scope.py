"""Per-request delegation scope (session and depth) and the headers that carry it across a hop."""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from pais_core import BadRequestError

__all__ = [
    "DEPTH_HEADER",
    "SESSION_HEADER",
    "DelegationScope",
    "current_delegation_scope",
    "delegation_scope",
    "depth_from_headers",
    "sub_session_id",
]

DEPTH_HEADER = "X-PAIS-Delegation-Depth"
"""Request header with the delegation depth of the run the request starts (0 = a user's request)."""
SESSION_HEADER = "X-Session-ID"
"""Request header with the session the receiving agent should use."""


@dataclass(frozen=True, kw_only=True)
class DelegationScope:
    """The session and delegation depth of the agent run being served."""

    session_id: str | None = None
    depth: int = 0
    max_depth: int | None = None


_SCOPE: ContextVar[DelegationScope | None] = ContextVar("pais_delegation_scope", default=None)


@contextmanager
def delegation_scope(*, session_id: str | None, depth: int, max_depth: int | None = None) -> Generator[DelegationScope]:
    """Set the session and depth that delegations made inside this block use.

    A server wraps each agent run in it; `max_depth`, when given, overrides the toolset's own limit.
    """
    scope = DelegationScope(session_id=session_id, depth=depth, max_depth=max_depth)
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


def current_delegation_scope() -> DelegationScope:
    """The innermost `delegation_scope`, or the standalone default (no session, depth 0)."""
    return _SCOPE.get() or DelegationScope()


def depth_from_headers(headers: Mapping[str, str]) -> int:
    """The delegation depth an incoming request declares (0 when it has no depth header).

    Raises:
        BadRequestError: the header is not a non-negative integer.
    """
    wanted = DEPTH_HEADER.lower()
    value = next((v for k, v in headers.items() if k.lower() == wanted), None)
    if value is None:
        return 0
    text = value.strip()
    if not text.isdigit() or len(text) > 4:
        raise BadRequestError(f"{DEPTH_HEADER} must be a non-negative integer, got {value!r}")
    return int(text)


def sub_session_id(parent_session_id: str, agent_name: str) -> str:
    """The session a sub-agent uses for delegations from `parent_session_id`; the same for every call."""
    return f"{parent_session_id}/{agent_name}"
