"""Who may continue, read and list which session (and its A2A tasks), by `MEMORY_READ_SCOPE`.

Without a verified caller (no auth, or the static key) everything stays open as before. A verified
caller continues only sessions it owns (the first run of a session claims it) and reads them by
`session` scope; `principal` scope also lists its own; `agent` scope and administrators read and
list every session. Another principal's session is answered as if it did not exist.
"""

from __future__ import annotations

from pais_core import NotFoundError, Principal, ReadScope, current_principal
from pais_memory import Memory

__all__ = ["ALL", "NOTHING", "SessionAccess"]

ALL = "*"
"""`listing_owner()`: list every session."""
NOTHING = ""
"""`listing_owner()`: list no session."""


class SessionAccess:
    """Ownership checks against one memory, for the current principal."""

    def __init__(self, memory: Memory, scope: ReadScope) -> None:
        self.memory = memory
        self.scope = scope

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
        if await self.memory.session_owner(session_id) != principal.id:
            raise _not_found(session_id)

    async def check_own(self, session_id: str) -> None:
        """Raises `NotFoundError` unless the current principal owns the session (or is unverified)."""
        principal = current_principal()
        if principal is not None and await self.memory.session_owner(session_id) != principal.id:
            raise _not_found(session_id)

    def listing_owner(self) -> str:
        """Whose sessions the current principal may list: `ALL`, `NOTHING`, or a principal id."""
        principal = current_principal()
        if principal is None or principal.admin or self.scope == "agent":
            return ALL
        return principal.id if self.scope == "principal" else NOTHING

    @staticmethod
    def task_owner() -> str | None:
        """The owner a new task is recorded under: the current principal, if verified."""
        principal = current_principal()
        return principal.id if principal is not None else None


def _not_found(session_id: str) -> NotFoundError:
    return NotFoundError(f"session {session_id!r} not found")
