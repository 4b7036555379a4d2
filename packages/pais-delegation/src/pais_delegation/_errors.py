"""Why a delegation failed, in words a model can act on."""

from __future__ import annotations

from typing import Literal

__all__ = ["DelegationError", "DelegationFailure"]

DelegationFailure = Literal[
    "unreachable",
    "connection_lost",
    "timeout",
    "http_status",
    "bad_response",
    "task_failed",
    "depth_exceeded",
    "unauthorized",
]


class DelegationError(Exception):
    """A delegation to `agent` did not produce an answer; `str(error)` says why."""

    def __init__(self, agent: str, reason: DelegationFailure, message: str) -> None:
        super().__init__(message)
        self.agent = agent
        self.reason: DelegationFailure = reason
        self.message = message
