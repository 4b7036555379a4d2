"""Who is asking: the caller of the current run, and where outbound credentials come from.

The caller is a `Principal` held in a context variable: set once at the server boundary, it follows
the run into its tool calls, delegations and background tasks (tasks copy the context they are
created in), so identity never sits in a shared client. Outbound calls ask a `CredentialProvider`
for their headers per call.

Three kinds of principal: a verified token's subject; `API_KEY_PRINCIPAL` for callers with the
static key (`AGENT_API_KEY`); and the agent itself (`AGENT_AUTH_IDENTITY`) for the runs it starts
on its own (`AUTONOMOUS_GOAL`). A token naming a reserved principal is refused at the boundary.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Literal, Protocol

__all__ = [
    "ACTOR_HEADER",
    "API_KEY_PRINCIPAL",
    "CredentialProvider",
    "OutboundAuth",
    "Principal",
    "current_principal",
    "principal_scope",
]

ACTOR_HEADER = "x-agent-authorization"
"""Carries the calling agent's own token (the actor) beside the user's `Authorization` (the subject)."""

OutboundAuth = Literal["none", "forward", "exchange"]
"""What a target receives as `Authorization`: its static key, the caller's token, or an exchanged token."""


@dataclass(frozen=True)
class Principal:
    """Who a run acts for: it owns the sessions and tasks it starts.

    Attributes:
        id: the principal (the token's `sub` or the configured claim, `api-key`, or the agent's identity).
        token: the bearer token it presented; kept out of `repr`, never stored or logged.
        admin: whether the token carries the administrator claim.
        agent: the agent itself: outbound calls carry the agent's own token as the subject too.
    """

    id: str
    token: str | None = field(default=None, repr=False, compare=False)
    admin: bool = False
    agent: bool = False


API_KEY_PRINCIPAL = Principal(id="api-key")
"""Every caller with the static key (`AGENT_API_KEY`): one principal, owning what it starts, no administrator."""


_current: ContextVar[Principal | None] = ContextVar("pais_principal", default=None)


def current_principal() -> Principal | None:
    """The principal of the current request or run; None when the server authenticates nobody."""
    return _current.get()


@contextmanager
def principal_scope(principal: Principal | None) -> Generator[None]:
    """Make `principal` the current caller inside the block (and in tasks started there)."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


class CredentialProvider(Protocol):
    """Headers one outbound target needs for one call, for the current principal."""

    async def headers(self) -> Mapping[str, str]:
        """The `Authorization` and actor headers to send now (possibly none).

        Raises:
            PaisError: a credential could not be obtained (the message never contains a token).
        """
        ...
