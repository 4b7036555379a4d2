"""Who may continue, read and list which session (and its A2A tasks), by `MEMORY_READ_SCOPE`.

Without authentication everything stays open. Every authenticated caller is a principal: a
token's subject, `api-key` for the static key, or the agent itself for its own runs. A principal
continues only sessions it owns (the first run of a session claims it) and reads them by `session`
scope; `principal` scope also lists its own; `agent` scope and administrators read and list every
session. Another principal's session is answered as if it did not exist. The agent's own runs
(`AUTONOMOUS_GOAL`) are also read and cancelled by its operators, administrators and the static key, who
also decide its calls awaiting approval (the run then resumes as the agent).
"""

from __future__ import annotations

from pais_core import API_KEY_PRINCIPAL, NotFoundError, Principal, ReadScope, current_principal
from pais_memory import Memory

__all__ = ["ALL", "NOTHING", "SessionAccess"]

ALL = "*"
"""`listing_owner()`: list every session."""
NOTHING = ""
"""`listing_owner()`: list no session."""


class SessionAccess:
    """Ownership checks against one memory, for the current principal."""

    def __init__(self, memory: Memory, scope: ReadScope, *, agent: str | None = None) -> None:
        self.memory = memory
        self.scope = scope
        self.agent = agent
        """The agent's own principal id (`AGENT_AUTH_IDENTITY`, else `AGENT_NAME`)."""

    async def claim(self, session_id: str, principal: Principal | None) -> None:
        """Let `principal` continue the session: claim it if unowned.

        Raises:
            NotFoundError: another principal owns it.
        """
        if principal is not None and await self.memory.claim_session(session_id, principal.id) != principal.id:
            raise _not_found(session_id)

    async def check_read(self, session_id: str) -> None:
        """Raises `NotFoundError` unless the current principal may read the session."""
        principal = current_principal()
        if principal is None or principal.admin or self.scope == "agent":
            return
        if not self._operates(principal, await self.memory.session_owner(session_id)):
            raise _not_found(session_id)

    async def check_own(self, session_id: str) -> None:
        """Raises `NotFoundError` unless the current principal owns or operates the session (or no auth is on)."""
        principal = current_principal()
        if principal is not None and not self._operates(principal, await self.memory.session_owner(session_id)):
            raise _not_found(session_id)

    async def resuming_as(self, session_id: str) -> Principal | None:
        """Whom a paused run of the session acts for when the current principal decides its calls: the
        current principal, or the agent itself when one of its operators decides on the agent's own run
        (`AUTONOMOUS_GOAL`); None when no auth is on.

        Raises:
            NotFoundError: the current principal neither owns nor operates the session.
        """
        principal = current_principal()
        if principal is None:
            return None
        owner = await self.memory.session_owner(session_id)
        if owner is None or owner == principal.id:
            return principal
        if not self._operates(principal, owner):
            raise _not_found(session_id)
        return Principal(id=owner, agent=True)

    def _operates(self, principal: Principal, owner: str | None) -> bool:
        """Whether `principal` owns a session of `owner`, or operates it (the agent's own, for its operators)."""
        if owner == principal.id:
            return True
        operator = principal.admin or principal.id == API_KEY_PRINCIPAL.id
        return operator and owner is not None and owner == self.agent

    def listing_owner(self) -> str:
        """Whose sessions the current principal may list: `ALL`, `NOTHING`, or a principal id."""
        principal = current_principal()
        if principal is None or principal.admin or self.scope == "agent":
            return ALL
        return principal.id if self.scope == "principal" else NOTHING

    @staticmethod
    def task_owner() -> str | None:
        """The owner a new task is recorded under: the current principal, if any."""
        principal = current_principal()
        return principal.id if principal is not None else None


def _not_found(session_id: str) -> NotFoundError:
    return NotFoundError(f"session {session_id!r} not found")
