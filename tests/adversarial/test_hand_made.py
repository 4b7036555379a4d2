"""The campaign's hand-made bad inputs: each against local memory, Redis memory and a keyed server."""

from __future__ import annotations

import json

import pytest

from .conftest import Probe, assert_still_readable

CHAT = "/v1/chat/completions"
TOOL_CALL = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}


def _chat(**fields: object) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": "hi"}], **fields}).encode()


BAD_CHAT_BODIES: dict[str, bytes] = {
    "not json": b"{not json",
    "empty": b"",
    "array": b"[1, 2]",
    "string": b'"messages"',
    "null": b"null",
    "no messages": b"{}",
    "empty messages": b'{"messages": []}',
    "messages not a list": b'{"messages": {"role": "user"}}',
    "last message not user": b'{"messages": [{"role": "assistant", "content": "hi"}]}',
    "unknown role": b'{"messages": [{"role": "wizard", "content": "hi"}]}',
    "content a number": b'{"messages": [{"role": "user", "content": 42}]}',
    "content blank": b'{"messages": [{"role": "user", "content": "  \\n "}]}',
    "content parts without text": b'{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}',
    "lone high surrogate": b'{"messages": [{"role": "user", "content": "a\\ud800"}]}',
    "lone low surrogate": b'{"messages": [{"role": "user", "content": "\\udfff b"}]}',
    "reversed surrogate pair": b'{"messages": [{"role": "user", "content": "\\ude00\\ud83d"}]}',
    "raw surrogate bytes": b'{"messages": [{"role": "user", "content": "\xed\xa0\x80"}]}',
    "invalid utf-8": b'{"messages": [{"role": "user", "content": "\xff\xfe"}]}',
    "surrogate in system": b'{"messages": [{"role": "system", "content": "\\ud800"}, {"role": "user", "content": "'
    b'x"}]}',
    "surrogate in model": _chat().replace(b"{", b'{"model": "\\udbff", ', 1),
    "surrogate in session_id": _chat().replace(b"{", b'{"session_id": "\\ud800", ', 1),
    "surrogate in an ignored field": _chat().replace(b"{", b'{"user": "\\ud800", "x": ["\\udc00"], ', 1),
    "nested 100k deep": b"[" * 100_000 + b"]" * 100_000,
    "nested 300 deep in a field": _chat().replace(b"{", b'{"metadata": ' + b"[" * 300 + b"]" * 300 + b", ", 1),
    "NaN temperature": _chat().replace(b"{", b'{"temperature": NaN, ', 1),
    "Infinity top_p": _chat().replace(b"{", b'{"top_p": Infinity, ', 1),
    "1e999 temperature": _chat().replace(b"{", b'{"temperature": 1e999, ', 1),
    "negative temperature": _chat(temperature=-1),
    "temperature a string": _chat(temperature="hot"),
    "stream yes": _chat(stream="yes"),
    "stream 1": _chat(stream=1),
    "seed false": _chat(seed=False),
    "seed 1.5": _chat(seed=1.5),
    "max_tokens 0": _chat(max_tokens=0),
    "max_tokens true": _chat(max_tokens=True),
    "stream_options include_usage yes": _chat(stream=True, stream_options={"include_usage": "yes"}),
    "session_id with spaces": _chat(session_id="has spaces"),
    "session_id too long": _chat(session_id="s" * 300),
    "unanswered tool call": json.dumps(
        {"messages": [{"role": "assistant", "tool_calls": [TOOL_CALL]}, {"role": "user", "content": "hi"}]}
    ).encode(),
    "tool call answered too late": json.dumps(
        {
            "messages": [
                {"role": "assistant", "tool_calls": [TOOL_CALL]},
                {"role": "user", "content": "meanwhile"},
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
                {"role": "user", "content": "hi"},
            ]
        }
    ).encode(),
    "tool call without id": json.dumps(
        {
            "messages": [
                {"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]},
                {"role": "user", "content": "x"},
            ]
        }
    ).encode(),
}

ODD_CHAT_BUT_FINE: dict[str, bytes] = {
    "surrogate pair (emoji)": b'{"messages": [{"role": "user", "content": "\\ud83d\\ude00"}]}',
    "NUL and line separators": b'{"messages": [{"role": "user", "content": "a\\u0000b\\u2028c"}]}',
    "tool result for an unknown call": json.dumps(
        {"messages": [{"role": "tool", "tool_call_id": "zz", "content": "r"}, {"role": "user", "content": "x"}]}
    ).encode(),
    "answered tool call": json.dumps(
        {
            "messages": [
                {"role": "assistant", "tool_calls": [TOOL_CALL]},
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
                {"role": "user", "content": "hi"},
            ]
        }
    ).encode(),
    "unknown fields": _chat(frequency_penalty=0.5, logit_bias={"1": 2}, tools=[], n=1),
    "streamed with usage": _chat(stream=True, stream_options={"include_usage": True}),
    "integer temperature": _chat(temperature=1),
}


@pytest.mark.parametrize("label", list(BAD_CHAT_BODIES))
def test_bad_chat_bodies_are_400(probe: Probe, label: str) -> None:
    answer = probe.request("chat hand-made", "POST", CHAT, BAD_CHAT_BODIES[label])
    assert answer.status == 400, answer.body
    assert answer.json()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("label", list(ODD_CHAT_BUT_FINE))
def test_odd_but_valid_chat_bodies_are_served(probe: Probe, label: str) -> None:
    answer = probe.request("chat hand-made", "POST", CHAT, ODD_CHAT_BUT_FINE[label], {"X-Session-ID": "odd"})
    assert answer.status == 200, answer.body
    assert probe.request("chat hand-made", "GET", "/memory/events?session_id=odd").status == 200


def _rpc(method: str, params: object, request_id: object = 1) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()


def _message(text: str = "hi", **extra: object) -> dict[str, object]:
    return {"role": "user", "messageId": "m-1", "parts": [{"kind": "text", "text": text}], **extra}


BAD_A2A_BODIES: dict[str, tuple[bytes, int]] = {
    "not json": (b"{nope", -32700),
    "empty": (b"", -32700),
    "nested 100k deep": (b"[" * 100_000 + b"]" * 100_000, -32700),
    "nested 100k deep object": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, -32700),
    "lone surrogate in text": (_rpc("message/send", {"message": _message("a\ud800")}), -32602),
    "lone surrogate in metadata": (_rpc("message/send", {"message": _message(metadata={"k": "\udc00"})}), -32602),
    "lone surrogate in method": (_rpc("tasks/\ud800", {}), -32602),
    "raw surrogate bytes": (_rpc("message/send", {"message": _message()}).replace(b"hi", b"\xed\xa0\x80"), -32602),
    "NaN id": (b'{"jsonrpc": "2.0", "id": NaN, "method": "tasks/list"}', -32700),
    "batch": (b"[" + _rpc("tasks/list", {}) + b"]", -32600),
    "no jsonrpc": (b'{"id": 1, "method": "tasks/list"}', -32600),
    "jsonrpc 1.0": (b'{"jsonrpc": "1.0", "id": 1, "method": "tasks/list"}', -32600),
    "method a number": (b'{"jsonrpc": "2.0", "id": 1, "method": 7}', -32600),
    "id an object": (b'{"jsonrpc": "2.0", "id": {"a": 1}, "method": "tasks/list"}', -32600),
    "unknown method": (_rpc("tasks/explode", {}), -32601),
    "params a list": (_rpc("tasks/get", [1, 2]), -32600),
    "params a string": (_rpc("message/send", "hi"), -32600),
    "send without message": (_rpc("message/send", {}), -32602),
    "role robot": (_rpc("message/send", {"message": {**_message(), "role": "robot"}}), -32602),
    "no parts": (_rpc("message/send", {"message": {**_message(), "parts": []}}), -32602),
    "part kind unknown": (_rpc("message/send", {"message": {**_message(), "parts": [{"kind": "blob"}]}}), -32602),
    "blank text": (_rpc("message/send", {"message": _message("   ")}), -32602),
    "context id with spaces": (_rpc("message/send", {"message": _message(contextId="a b")}), -32602),
    "historyLength a string": (_rpc("tasks/get", {"id": "x", "historyLength": "all"}), -32602),
    "get without id": (_rpc("tasks/get", {}), -32602),
    "unknown task": (_rpc("tasks/get", {"id": "no-such-task"}), -32001),
    "cancel unknown task": (_rpc("tasks/cancel", {"id": "no-such-task"}), -32001),
    "list with a forged page token": (_rpc("tasks/list", {"pageToken": "forged"}), -32602),
    "list with pageSize 0": (_rpc("tasks/list", {"pageSize": 0}), -32602),
    "1.0 send with a 0.3 message": (_rpc("SendMessage", {"message": {"role": "robot"}}), -32602),
}


@pytest.mark.parametrize("label", list(BAD_A2A_BODIES))
def test_bad_a2a_requests_are_json_rpc_errors(probe: Probe, label: str) -> None:
    body, code = BAD_A2A_BODIES[label]
    answer = probe.request("a2a hand-made", "POST", "/", body)
    assert answer.status == 200, answer.body
    assert answer.json()["error"]["code"] == code, answer.body


ODD_REQUESTS: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("GET", CHAT, None, {}),
    ("PUT", "/", b"{}", {}),
    ("DELETE", "/memory/sessions", None, {}),
    ("GET", "/v1/nowhere", None, {}),
    ("GET", "/" + "a" * 8000, None, {}),
    ("POST", CHAT, _chat(), {"Content-Type": "text/plain"}),
    ("POST", CHAT, _chat(), {"Content-Type": "application/json; charset=latin-1"}),
    ("POST", CHAT, _chat(), {"X-Session-ID": "bad id with spaces"}),
    ("POST", CHAT, _chat(), {"X-Session-ID": "é"}),
    ("POST", CHAT, _chat(), {"X-Delegation-Depth": "-1"}),
    ("POST", CHAT, _chat(), {"X-Delegation-Depth": "99999999999999999999"}),
    ("POST", "/", _rpc("message/send", {"message": _message()}), {"X-Delegation-Depth": "deep"}),
    ("POST", "/", _rpc("message/stream", {"message": {"role": "robot"}}), {"Accept": "text/event-stream"}),
    ("GET", "/memory/events", None, {}),
    ("GET", "/memory/events?session_id=", None, {}),
    ("GET", "/memory/events?session_id=%ED%A0%80", None, {}),
    ("GET", "/memory/events?session_id=%FF%FE", None, {}),
    ("GET", "/memory/events?session_id=x&limit=-1", None, {}),
    ("GET", "/memory/events?session_id=x&limit=99999999999999999999999", None, {}),
    ("GET", "/memory/events?session_id=x&cursor=%00%01", None, {}),
    ("GET", "/memory/sessions?cursor=not-a-cursor", None, {}),
    ("GET", "/memory/sessions?limit=1e3", None, {}),
    ("GET", "/.well-known/agent-card.json?x=%ED%A0%80", None, {}),
    ("GET", "/ready", None, {"Authorization": "Bearer nonsense"}),
]


@pytest.mark.parametrize(("method", "path", "body", "headers"), ODD_REQUESTS)
def test_odd_requests_get_clear_answers(
    probe: Probe, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> None:
    answer = probe.request("protocol odd", method, path, body, headers)
    assert answer.status < 500, answer.body


AUTH_VARIANTS: dict[str, dict[str, str]] = {
    "missing": {},
    "empty": {"Authorization": ""},
    "scheme only": {"Authorization": "Bearer"},
    "basic": {"Authorization": "Basic YWR2ZXJzYXJpYWwta2V5Og=="},
    "prefix of the key": {"Authorization": "Bearer adversarial"},
    "key plus more": {"Authorization": "Bearer adversarial-key-and-more"},
    "in a query": {},
}
# RFC 7235: the scheme is case-insensitive; HTTP drops whitespace around a header's value.
ACCEPTED_VARIANTS: dict[str, dict[str, str]] = {
    "lower-case scheme": {"Authorization": "bearer adversarial-key"},
    "trailing space": {"Authorization": "Bearer adversarial-key "},
}


@pytest.mark.parametrize("variant", list(AUTH_VARIANTS))
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("POST", CHAT, _chat()), ("POST", "/", _rpc("tasks/list", {})), ("GET", "/memory/sessions", None)],
)
def test_wrong_credentials_are_401_everywhere(
    keyed_probe: Probe, variant: str, method: str, path: str, body: bytes | None
) -> None:
    target = f"{path}?api_key={keyed_probe.key}" if variant == "in a query" else path
    answer = keyed_probe.request("auth", method, target, body, AUTH_VARIANTS[variant], authorized=False)
    assert answer.status == 401, answer.body
    sent = bool(AUTH_VARIANTS[variant].get("Authorization"))
    assert answer.headers["www-authenticate"] == ('Bearer error="invalid_token"' if sent else "Bearer")


@pytest.mark.parametrize("variant", list(ACCEPTED_VARIANTS))
def test_the_key_in_any_scheme_case_is_accepted(keyed_probe: Probe, variant: str) -> None:
    answer = keyed_probe.request("auth", "GET", "/memory/sessions", None, ACCEPTED_VARIANTS[variant], authorized=False)
    assert answer.status == 200, answer.body


def test_stored_data_is_readable_after_the_campaign(probe: Probe) -> None:
    assert_still_readable(probe)
