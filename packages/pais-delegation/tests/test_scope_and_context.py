"""Delegation scope, depth header parsing and the context forwarded from a run's messages."""

from __future__ import annotations

import pytest
from pydantic_ai.messages import (
    ModelRequest,
    ModelResponse,
    SystemPromptPart,
    TextPart,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)

from pais_core import BadRequestError
from pais_delegation import (
    DEPTH_HEADER,
    ContextMessage,
    current_delegation_scope,
    delegation_scope,
    depth_from_headers,
    recent_context,
    sub_session_id,
)


def test_scope_nests_and_resets() -> None:
    assert current_delegation_scope().depth == 0
    assert current_delegation_scope().session_id is None
    with delegation_scope(session_id="a", depth=1, max_depth=4):
        with delegation_scope(session_id="b", depth=2):
            assert current_delegation_scope().session_id == "b"
            assert current_delegation_scope().max_depth is None
        assert current_delegation_scope().depth == 1
    assert current_delegation_scope().session_id is None


def test_depth_header_parsing() -> None:
    assert depth_from_headers({}) == 0
    assert depth_from_headers({DEPTH_HEADER.lower(): "3"}) == 3
    assert depth_from_headers({"X-Pais-Delegation-Depth": " 2 "}) == 2
    for bad in ("-1", "two", "", "99999"):
        with pytest.raises(BadRequestError, match=DEPTH_HEADER):
            depth_from_headers({DEPTH_HEADER: bad})


def test_sub_session_is_deterministic() -> None:
    assert sub_session_id("s1", "worker-a") == sub_session_id("s1", "worker-a") == "s1/worker-a"


def test_context_keeps_recent_user_and_assistant_text_only() -> None:
    messages = [
        ModelRequest(parts=[SystemPromptPart("secret instructions"), UserPromptPart("first question")]),
        ModelResponse(parts=[TextPart("first answer")]),
        ModelRequest(parts=[UserPromptPart(["multi", "part"])]),
        ModelResponse(parts=[ToolCallPart("lookup", {"q": 1}, tool_call_id="c1")]),
        ModelRequest(parts=[ToolReturnPart("lookup", "tool output", tool_call_id="c1")]),
        ModelResponse(parts=[TextPart("calling a helper"), ToolCallPart("delegate_to_x", {"task": "t"})]),
    ]
    assert recent_context(messages) == [
        ContextMessage("user", "first question"),
        ContextMessage("assistant", "first answer"),
        ContextMessage("user", "multi\npart"),
        ContextMessage("assistant", "calling a helper"),
    ]
    assert recent_context(messages, max_messages=2) == [
        ContextMessage("user", "multi\npart"),
        ContextMessage("assistant", "calling a helper"),
    ]
    assert recent_context(messages, max_messages=0) == []


def test_context_is_bounded_in_size_newest_first() -> None:
    messages = [
        ModelRequest(parts=[UserPromptPart("a" * 50)]),
        ModelResponse(parts=[TextPart("b" * 30)]),
    ]
    kept = recent_context(messages, max_chars=40)
    assert kept == [ContextMessage("user", "a" * 7 + "..."), ContextMessage("assistant", "b" * 30)]
    assert sum(len(m.content) for m in kept) == 40
