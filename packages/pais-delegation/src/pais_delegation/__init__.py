"""PAIS delegation: hand tasks to other agents over HTTP (A2A or chat completions) as Pydantic AI tools."""

from ._a2a_client import A2AClient, A2AProtocolError, A2ARpcError
from ._context import ContextMessage, recent_context, render_context
from ._errors import DelegationError, DelegationFailure
from ._http import HttpPool
from ._paused import DECISIONS_KEY, PAUSED_KEY, DelegatedApproval, delegated_approvals, with_decisions
from ._remote import (
    CARD_PATH,
    CONTEXT_METADATA_KEY,
    LEGACY_CARD_PATH,
    A2AEndpoint,
    DelegationResult,
    RemoteAgent,
    Transport,
    a2a_endpoint,
)
from ._scope import (
    DEPTH_HEADER,
    SESSION_HEADER,
    DelegationScope,
    current_delegation_scope,
    delegation_scope,
    depth_from_headers,
    sub_session_id,
)
from ._toolset import METADATA_KEY, DelegationRecord, DelegationToolset, delegate_tool_name

__all__ = [
    "CARD_PATH",
    "CONTEXT_METADATA_KEY",
    "DECISIONS_KEY",
    "DEPTH_HEADER",
    "LEGACY_CARD_PATH",
    "METADATA_KEY",
    "PAUSED_KEY",
    "SESSION_HEADER",
    "A2AClient",
    "A2AEndpoint",
    "A2AProtocolError",
    "A2ARpcError",
    "ContextMessage",
    "DelegatedApproval",
    "DelegationError",
    "DelegationFailure",
    "DelegationRecord",
    "DelegationResult",
    "DelegationScope",
    "DelegationToolset",
    "HttpPool",
    "RemoteAgent",
    "Transport",
    "a2a_endpoint",
    "current_delegation_scope",
    "delegate_tool_name",
    "delegated_approvals",
    "delegation_scope",
    "depth_from_headers",
    "recent_context",
    "render_context",
    "sub_session_id",
    "with_decisions",
]
