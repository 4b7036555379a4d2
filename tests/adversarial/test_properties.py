"""Property-based: hypothesis builds chat and A2A requests near and far from their models.

Strings may hold lone surrogates, NUL and line separators; numbers may be NaN, infinite or huge;
every field may have the wrong type; bodies are JSON text (escaped or raw UTF-8 with surrogates).
Whatever comes in, the campaign's rules hold (`Probe`), a valid chat request is served 200 and an
invalid one is a 400, and what got stored is still readable afterwards.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pais_core import A2A_METHODS

from .conftest import Probe, assert_still_readable

EXAMPLES = 150
CAMPAIGN = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# hypothesis never puts surrogates in `st.text()` or `st.characters()`: they come from the sampled list
special_char = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff", "\x00", "\u2028", "\ufeff", "😀", '"', "\\"])
nasty_char = st.one_of(st.characters(), special_char)


def strings(min_size: int = 0, max_size: int = 20) -> st.SearchStrategy[str]:
    """Clean text half the time, else text where lone surrogates and control characters are likely."""
    return st.one_of(
        st.text(min_size=min_size, max_size=max_size),
        st.lists(nasty_char, min_size=min_size, max_size=max_size).map("".join),
    )


text = strings()
number = st.one_of(st.integers(min_value=-(2**70), max_value=2**70), st.floats(allow_nan=True, allow_infinity=True))
scalar = st.one_of(st.none(), st.booleans(), number, text)
json_value = st.recursive(
    scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3), max_leaves=8
)
anything = st.one_of(scalar, json_value)


def _body(data: Any, raw: bool) -> bytes:
    """JSON text of `data`: ASCII with `\\u` escapes, or raw UTF-8 (lone surrogates as their bytes)."""
    return json.dumps(data, ensure_ascii=not raw).encode("utf-8", "surrogatepass")


# --- chat ---------------------------------------------------------------------------------------

tool_call = st.fixed_dictionaries(
    {"id": st.one_of(st.sampled_from(["c1", "c2"]), text), "type": st.just("function")},
    optional={"function": st.fixed_dictionaries({"name": text, "arguments": st.one_of(text, anything)})},
)
content = st.one_of(
    text,
    st.none(),
    number,
    st.lists(
        st.fixed_dictionaries({"type": st.sampled_from(["text", "image_url", "x"])}, optional={"text": text}),
        max_size=3,
    ),
)
message = st.fixed_dictionaries(
    {"role": st.one_of(st.sampled_from(["system", "developer", "user", "assistant", "tool", "function"]), text)},
    optional={
        "content": content,
        "name": text,
        "tool_call_id": st.one_of(st.sampled_from(["c1", "c2"]), text),
        "tool_calls": st.lists(tool_call, max_size=2),
    },
)
chat_body = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(message, max_size=4), anything)},
    optional={
        "model": st.one_of(text, anything),
        "stream": st.one_of(st.booleans(), anything),
        "stream_options": st.one_of(st.fixed_dictionaries({"include_usage": anything}), anything),
        "temperature": st.one_of(number, anything),
        "top_p": number,
        "seed": st.one_of(number, anything),
        "max_tokens": st.one_of(number, anything),
        "session_id": st.one_of(text, st.sampled_from(["prop-session", "prop-other"])),
        "user": anything,
        "metadata": json_value,
    },
)


@CAMPAIGN
@given(body=chat_body, end_with_user=st.booleans(), raw=st.booleans())
def test_any_chat_request_is_served_or_refused_cleanly(
    probe: Probe, body: dict[str, Any], end_with_user: bool, raw: bool
) -> None:
    if end_with_user and isinstance(body["messages"], list):
        body["messages"].append({"role": "user", "content": "and now?"})
    answer = probe.request("chat property", "POST", "/v1/chat/completions", _body(body, raw))
    assert answer.status in (200, 400), answer.body
    if answer.status == 200 and body.get("stream") is not True:
        assert answer.json()["choices"][0]["message"]["content"] == "ok"


def _has_lone_surrogate(data: Any, raw: bool) -> bool:
    """Whether `_body(data, raw)` carries an unpaired surrogate (two escaped halves in a row make a pair)."""
    sent = data if raw else json.loads(json.dumps(data))
    try:
        json.dumps(sent, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    return False


plain_text = strings(min_size=1, max_size=40)
valid_chat_body = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries(
                {"role": st.sampled_from(["system", "developer", "user", "assistant"]), "content": plain_text}
            ),
            max_size=4,
        ).map(lambda history: [*history, {"role": "user", "content": "question"}]),
    },
    optional={
        "model": plain_text,
        "stream": st.booleans(),
        "temperature": st.floats(min_value=0, max_value=2),
        "top_p": st.floats(min_value=0, max_value=1),
        "seed": st.integers(min_value=-(2**63), max_value=2**63 - 1),
        "max_tokens": st.integers(min_value=1, max_value=10**6),
        "user": plain_text,
        "session_id": st.sampled_from(["prop-valid", "prop-valid-2"]),
    },
)


@CAMPAIGN
@given(body=valid_chat_body, raw=st.booleans())
def test_valid_chat_requests_with_any_text_are_served_unless_it_has_lone_surrogates(
    probe: Probe, body: dict[str, Any], raw: bool
) -> None:
    answer = probe.request("chat property (valid)", "POST", "/v1/chat/completions", _body(body, raw))
    assert answer.status == (400 if _has_lone_surrogate(body, raw) else 200), answer.body


def test_stored_chat_data_is_readable_after_the_properties(probe: Probe) -> None:
    assert_still_readable(probe)


# --- A2A ----------------------------------------------------------------------------------------

part = st.one_of(
    st.fixed_dictionaries({"kind": st.just("text"), "text": text}),
    st.fixed_dictionaries({"text": text}),  # 1.0 style
    st.fixed_dictionaries({"kind": st.just("data"), "data": st.one_of(json_value, anything)}),
    st.fixed_dictionaries(
        {
            "kind": st.just("file"),
            "file": st.fixed_dictionaries({}, optional={"uri": text, "bytes": text, "name": text}),
        }
    ),
    st.dictionaries(text, anything, max_size=3),
)
a2a_message = st.fixed_dictionaries(
    {
        "role": st.one_of(st.sampled_from(["user", "agent", "ROLE_USER", "ROLE_AGENT"]), text),
        "parts": st.lists(part, max_size=3),
    },
    optional={
        "messageId": st.one_of(text, anything),
        "contextId": st.one_of(text, st.sampled_from(["prop-ctx"]), anything),
        "taskId": st.one_of(text, anything),
        "metadata": st.one_of(json_value, anything),
        "kind": st.one_of(st.just("message"), text),
    },
)
a2a_params = st.one_of(
    st.fixed_dictionaries(
        {"message": st.one_of(a2a_message, anything)},
        optional={
            "configuration": st.fixed_dictionaries(
                {},
                optional={
                    "blocking": anything,
                    "historyLength": anything,
                    "acceptedOutputModes": anything,
                    "returnImmediately": anything,
                },
            ),
            "metadata": anything,
        },
    ),
    st.fixed_dictionaries({"id": st.one_of(text, anything)}, optional={"historyLength": anything, "name": text}),
    st.fixed_dictionaries(
        {},
        optional={
            "pageSize": anything,
            "pageToken": anything,
            "contextId": anything,
            "status": anything,
            "includeArtifacts": anything,
        },
    ),
    anything,
)
rpc = st.fixed_dictionaries(
    {"method": st.one_of(st.sampled_from(sorted(A2A_METHODS)), text)},
    optional={
        "jsonrpc": st.one_of(st.just("2.0"), anything),
        "id": st.one_of(st.integers(), text, st.none(), anything),
        "params": a2a_params,
    },
)


@CAMPAIGN
@given(request=rpc, raw=st.booleans())
def test_any_a2a_request_gets_a_json_rpc_answer(probe: Probe, request: dict[str, Any], raw: bool) -> None:
    request.setdefault("jsonrpc", "2.0")
    answer = probe.request(
        "a2a property", "POST", "/", _body(request, raw), {"Accept": "text/event-stream, application/json"}
    )
    assert answer.status == 200, answer.body


valid_send = st.fixed_dictionaries(
    {
        "method": st.sampled_from(["message/send", "SendMessage"]),
        "id": st.one_of(st.integers(), plain_text),
        "text": plain_text.filter(str.strip),
        "context": st.sampled_from(["prop-ctx-1", "prop-ctx-2"]),
    }
)


@CAMPAIGN
@given(send=valid_send, raw=st.booleans())
def test_valid_a2a_sends_with_any_text_complete_unless_it_has_lone_surrogates(
    probe: Probe, send: dict[str, Any], raw: bool
) -> None:
    v1 = send["method"] == "SendMessage"
    message = {
        "role": "ROLE_USER" if v1 else "user",
        "messageId": "m",
        "contextId": send["context"],
        "parts": [{"text": send["text"]} if v1 else {"kind": "text", "text": send["text"]}],
    }
    request = {"jsonrpc": "2.0", "id": send["id"], "method": send["method"], "params": {"message": message}}
    headers = {"A2A-Version": "1.0"} if v1 else {}  # the header, not the method name, picks the 1.0 shapes
    answer = probe.request("a2a property (valid)", "POST", "/", _body(request, raw), headers)
    reply = answer.json()
    if _has_lone_surrogate(request, raw):
        assert reply["error"]["code"] == -32602, reply
    else:
        task = reply["result"]["task"] if v1 else reply["result"]
        assert task["status"]["state"] in ("completed", "TASK_STATE_COMPLETED"), reply


def test_stored_a2a_data_is_readable_after_the_properties(probe: Probe) -> None:
    assert_still_readable(probe)
