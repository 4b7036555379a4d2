"""The text protocol of string-mode tool calling: how tools are described to a model, and how its replies are read.

Everything here is pure: strings and JSON values in, strings and values out. A model without native
function calling is told to reply with `{"tool_calls": [{"name": ..., "arguments": {...}}]}` to call
tools and with plain text (or `{"answer": "..."}` under constrained output) to answer. `parse_reply`
reads what small models actually write: fenced or bare JSON, one call or a list, arguments as an object
or a JSON string, OpenAI's `{"function": {...}}` shape, chatter around the JSON, trailing commas,
Python-literal dicts, `tool(arg=value)` call syntax and trailing garbage. It never raises; a reply that
tried to call a tool but cannot be read comes back with an `error` to send to the model as a retry.
"""

from __future__ import annotations

import ast
import itertools
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

from pydantic_ai.tools import ToolDefinition

__all__ = [
    "AnswerStream",
    "ParsedCall",
    "ParsedReply",
    "ReplyStream",
    "ToolResult",
    "describe_tools",
    "parse_reply",
    "render_tool_calls",
    "render_tool_results",
    "reply_schema",
]

TOOL_CALLS = "tool_calls"
ANSWER = "answer"

_MAX_TEXT = 256_000
"""Only this many leading characters of a reply are searched for JSON (bounds the work on adversarial text)."""
_MAX_CANDIDATES = 128
"""At most this many `{`/`[` positions are tried as the start of a JSON value."""
_MAX_REPAIRS = 8
"""At most this many spans that fail to decode are tried again with repairs (each costs a scan)."""

_NAME_KEYS = ("name", "tool", "tool_name", "function")
_ARGS_KEYS = ("arguments", "args", "parameters", "input", "params")
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_ANSWER_START = re.compile(r'\s*\{\s*"answer"\s*:\s*"')
_FENCE_OPEN = re.compile(r"```[A-Za-z0-9_-]*\s*$")
_JSON_START = re.compile(r"[\[{]")


@dataclass(frozen=True, slots=True)
class ParsedCall:
    """One tool call read from a reply; `arguments` stays a string when it is not a JSON object."""

    name: str
    arguments: dict[str, Any] | str


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """What a reply says.

    Attributes:
        text: the answer, or with `calls` the chatter the model wrote before them.
        calls: the tool calls, in order.
        error: set when the reply tried to call a tool but could not be read; a message for the model.
    """

    text: str
    calls: tuple[ParsedCall, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """A tool's outcome as the model will read it."""

    tool_name: str
    content: str
    outcome: str = "success"


# --- describing tools -------------------------------------------------------------------------


def describe_tools(tools: Sequence[ToolDefinition], *, json_answers: bool) -> str:
    """Instructions that teach a model without native tools to call `tools` by writing JSON.

    Worded for very small models (tuned on SmolLM2-135M): one line per tool, placeholders rather
    than an example call (a concrete example gets copied into the arguments).
    """
    lines = ["Tools you can call:"]
    for tool in tools:
        description = (tool.description or "").strip().replace("\n", " ")
        lines.append(
            f"- {tool.name}: {description} {_describe_parameters(tool.parameters_json_schema)}".replace("  ", " ")
        )
    answer = 'reply with {"answer": "..."}' if json_answers else "reply to the user in plain text"
    lines += [
        "",
        "If a tool can help answer the user, call it first by replying with only JSON: "
        '{"tool_calls": [{"name": "<tool name>", "arguments": {"<argument>": <value>}}]}',
        f"You will get the tool result, then {answer}.",
    ]
    return "\n".join(lines)


def _describe_parameters(schema: dict[str, Any]) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties:
        if schema.get("type") == "object" and not schema.get("additionalProperties"):
            return "Arguments: none."
        return f"Arguments (JSON schema): {json.dumps(schema, separators=(',', ':'))}."
    required = set(cast(list[str], schema.get("required") or []))
    described: list[str] = []
    for name, prop in cast(dict[str, Any], properties).items():
        spec = cast(dict[str, Any], prop) if isinstance(prop, dict) else {}
        text = f"{name} ({_type_name(spec)}, {'required' if name in required else 'optional'})"
        if "enum" in spec:
            text += f" one of {json.dumps(spec['enum'])}"
        if description := spec.get("description"):
            text += f": {description}"
        described.append(text)
    return "Arguments: " + "; ".join(described) + "."


def _type_name(spec: dict[str, Any]) -> str:
    kind = spec.get("type")
    if isinstance(kind, str):
        if kind == "array" and isinstance(items := spec.get("items"), dict):
            return f"array of {_type_name(cast(dict[str, Any], items))}"
        return kind
    if isinstance(kind, list):
        return " or ".join(str(k) for k in cast(list[Any], kind))
    for key in ("anyOf", "oneOf"):
        if isinstance(options := spec.get(key), list):
            return " or ".join(
                _type_name(cast(dict[str, Any], o)) for o in cast(list[Any], options) if isinstance(o, dict)
            )
    return "value"


def reply_schema(tools: Sequence[ToolDefinition]) -> dict[str, Any]:
    """JSON schema of a reply under constrained output: tool calls with each tool's own arguments, or an answer."""
    call_options: list[dict[str, Any]] = [
        {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": [tool.name]},
                "arguments": tool.parameters_json_schema or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for tool in tools
    ]
    options: list[dict[str, Any]] = []
    if call_options:
        items = call_options[0] if len(call_options) == 1 else {"anyOf": call_options}
        options.append(
            {
                "type": "object",
                "properties": {TOOL_CALLS: {"type": "array", "items": items, "minItems": 1}},
                "required": [TOOL_CALLS],
            }
        )
    options.append({"type": "object", "properties": {ANSWER: {"type": "string"}}, "required": [ANSWER]})
    return options[0] if len(options) == 1 else {"anyOf": options}


# --- rendering history ------------------------------------------------------------------------


def render_tool_calls(calls: Sequence[ParsedCall]) -> str:
    """The text a model writes to make `calls`, as it appears in the conversation history."""
    rendered = [{"name": c.name, "arguments": _arguments_value(c.arguments)} for c in calls]
    return json.dumps({TOOL_CALLS: rendered}, ensure_ascii=False)


def _arguments_value(arguments: dict[str, Any] | str) -> Any:
    if isinstance(arguments, dict):
        return arguments
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def render_tool_results(results: Sequence[ToolResult], *, question: str | None) -> str:
    """The user-turn text that hands tool results back to a model without native tools.

    Quoting the result and restating the user's `question` is what gets a very small model to put
    the result into its answer instead of answering from its own guesses.
    """
    lines: list[str] = []
    for result in results:
        if result.outcome == "success":
            lines.append(f'{result.tool_name} returned "{result.content}".')
        elif result.outcome == "retried":
            lines.append(f"{result.tool_name} was called with invalid arguments: {result.content}")
        else:
            lines.append(f"{result.tool_name} {result.outcome}: {result.content}")
    if any(result.outcome == "retried" for result in results):
        lines.append("Fix the arguments and call the tool again.")
    else:
        subject = f'the question "{question}"' if question else "the user's question"
        these = "this result" if len(results) == 1 else "these results"
        lines.append(f"Answer {subject} by stating {these}.")
    return "\n".join(lines)


# --- parsing replies --------------------------------------------------------------------------


def parse_reply(text: str, tools: Sequence[ToolDefinition] = ()) -> ParsedReply:
    """Read tool calls or an answer from a model's reply; never raises.

    Args:
        text: the reply.
        tools: the tools offered. A bare `{"name": ...}` object counts as a call only when it also
            has arguments or names one of them, and `tool(arg=value)` syntax is read for them.
    """
    names = {tool.name for tool in tools}
    scanned = text[:_MAX_TEXT]
    answer: str | None = None
    calls: list[ParsedCall] = []
    first_call_at: int | None = None
    first_failure: tuple[int, str] | None = None
    for start, value, error in _json_values(scanned):
        if error is not None:
            first_failure = first_failure or (start, error)
            continue
        found = _calls_in(value, names)
        if found:
            calls.extend(found)
            first_call_at = start if first_call_at is None else first_call_at
        elif answer is None and isinstance(value, dict) and isinstance(a := cast(Any, value).get(ANSWER), str):
            answer = a
    if not calls and (syntax := _call_syntax(scanned, tools)):
        first_call_at, calls = syntax
    if calls:
        assert first_call_at is not None
        # A call found inside broken JSON (say, a missing last brace) starts where that JSON starts.
        if first_failure is not None and first_failure[0] < first_call_at:
            first_call_at = first_failure[0]
        return ParsedReply(text=_chatter(scanned[:first_call_at]), calls=_distinct(calls))
    if answer is not None:
        return ParsedReply(text=answer)
    if _ANSWER_START.match(scanned):
        return ParsedReply(text=AnswerStream().feed(scanned))
    stripped = text.strip()
    if _looks_like_call(scanned, names):
        return ParsedReply(text=stripped, error=_retry_message(first_failure[1] if first_failure else None, tools))
    return ParsedReply(text=stripped)


def _distinct(calls: list[ParsedCall]) -> tuple[ParsedCall, ...]:
    """`calls` without repeats of the same call (small models sometimes write one call twice)."""
    seen: list[ParsedCall] = []
    for call in calls:
        if call not in seen:
            seen.append(call)
    return tuple(seen)


def _chatter(prefix: str) -> str:
    return _FENCE_OPEN.sub("", prefix.rstrip()).strip()


def _json_values(text: str) -> Iterator[tuple[int, Any, str | None]]:
    """Each JSON value (or the reason one failed to decode) starting at a `{` or `[`, left to right.

    A decoded value's span is skipped, so values nested in it are not reported again.
    """
    decoder = json.JSONDecoder()
    position = tried = repairs = 0
    while tried < _MAX_CANDIDATES:
        match = _JSON_START.search(text, position)
        if match is None:
            return
        start = match.start()
        tried += 1
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError) as exc:
            repairs += 1
            repaired = _repair(text, start) if repairs <= _MAX_REPAIRS else None
            if repaired is None:
                yield start, None, str(exc)
                position = start + 1
                continue
            value, end = repaired
        yield start, value, None
        position = end


def _repair(text: str, start: int) -> tuple[Any, int] | None:
    """Decode the bracketed span at `start` after fixing trailing commas, or as a Python literal."""
    end = _closing_bracket(text, start)
    if end is None:
        return None
    span = text[start:end]
    try:
        return json.loads(_TRAILING_COMMA.sub(r"\1", span)), end
    except (ValueError, RecursionError):
        pass
    try:
        return ast.literal_eval(span), end
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None


def _closing_bracket(text: str, start: int) -> int | None:
    """Index just past the bracket that closes the one at `start`, honouring quoted strings."""
    depth = 0
    quote: str | None = None
    escaped = False
    for index in range(start, min(len(text), start + _MAX_TEXT)):
        char = text[index]
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char in "{[(":
            depth += 1
        elif char in "}])":
            depth -= 1
            if depth == 0:
                return index + 1
    return None


def _calls_in(value: Any, names: set[str]) -> list[ParsedCall]:
    if isinstance(value, list):
        return [call for item in cast(list[Any], value) if (call := _call_of(item, names, explicit=False))]
    if not isinstance(value, dict):
        return []
    data = cast(dict[str, Any], value)
    for key in (TOOL_CALLS, "tool_call", "function_call", "calls"):
        if key in data:
            inner = data[key]
            items = cast(list[Any], inner) if isinstance(inner, list) else [inner]
            return [call for item in items if (call := _call_of(item, names, explicit=True))]
    call = _call_of(data, names, explicit=False)
    return [call] if call else []


def _call_of(item: Any, names: set[str], *, explicit: bool) -> ParsedCall | None:
    """`item` as a call; outside an explicit `tool_calls` list it needs arguments or a known tool name."""
    if not isinstance(item, dict):
        return None
    data = cast(dict[str, Any], item)
    function = data.get("function")
    if isinstance(function, dict):
        data = {**data, **cast(dict[str, Any], function)}
    name = next((v for k in _NAME_KEYS if isinstance(v := data.get(k), str) and v.strip()), None)
    if name is None:
        return None
    args_key = next((k for k in _ARGS_KEYS if k in data), None)
    if not explicit and args_key is None and name not in names:
        return None
    return ParsedCall(name=name.strip(), arguments=_arguments_of(data.get(args_key) if args_key else None))


def _arguments_of(raw: Any) -> dict[str, Any] | str:
    if raw is None:
        return {}
    if isinstance(raw, dict):
        return cast(dict[str, Any], raw)
    if isinstance(raw, str):
        try:
            decoded: Any = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return raw
        return cast(dict[str, Any], decoded) if isinstance(decoded, dict) else raw
    return json.dumps(raw)


def _call_syntax(text: str, tools: Sequence[ToolDefinition]) -> tuple[int, list[ParsedCall]] | None:
    """Calls written as `tool(arg=value, ...)` for known tools, e.g. `get_weather(city="Paris")`."""
    if not tools:
        return None
    by_name = {tool.name: tool for tool in tools}
    pattern = re.compile(r"\b(" + "|".join(re.escape(n) for n in by_name) + r")\s*\(")
    calls: list[ParsedCall] = []
    first: int | None = None
    for match in itertools.islice(pattern.finditer(text), _MAX_REPAIRS):
        end = _closing_bracket(text, match.end() - 1)
        if end is None:
            continue
        arguments = _literal_call_arguments(text[match.start() : end], by_name[match.group(1)])
        if arguments is not None:
            calls.append(ParsedCall(name=match.group(1), arguments=arguments))
            first = match.start() if first is None else first
    return (first, calls) if first is not None else None


def _literal_call_arguments(source: str, tool: ToolDefinition) -> dict[str, Any] | None:
    try:
        node = ast.parse(source.strip(), mode="eval").body
        if not isinstance(node, ast.Call):
            return None
        positional = [ast.literal_eval(arg) for arg in node.args]
        keywords = {kw.arg: ast.literal_eval(kw.value) for kw in node.keywords if kw.arg is not None}
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return None
    order = list(cast(dict[str, Any], tool.parameters_json_schema.get("properties") or {}))
    if len(positional) > len(order):
        return None
    return {**dict(zip(order, positional, strict=False)), **keywords}


def _looks_like_call(text: str, names: set[str]) -> bool:
    if TOOL_CALLS in text or '"arguments"' in text:
        return True
    return bool(names) and "{" in text and any(f'"{name}"' in text for name in names)


def _retry_message(decode_error: str | None, tools: Sequence[ToolDefinition]) -> str:
    reason = f"it is not valid JSON ({decode_error})" if decode_error else "no complete JSON object was found"
    available = ", ".join(tool.name for tool in tools) or "none"
    return (
        f"Your reply looks like a tool call but it could not be read: {reason}. "
        'To call a tool, reply with only one JSON object: {"tool_calls": [{"name": "<tool name>", '
        '"arguments": {...}}]}. '
        f"Available tools: {available}. To answer the user instead, reply without JSON."
    )


# --- streaming replies ------------------------------------------------------------------------


class AnswerStream:
    """Incrementally decodes the string value of `{"answer": "..."}` from a reply arriving in pieces.

    `feed` returns the newly decoded answer text; text before the opening quote is skipped and
    everything after the closing quote is ignored. A partial escape sequence waits for the next piece.
    """

    def __init__(self) -> None:
        self._pending = ""
        self._started = False
        self.done = False

    def feed(self, chunk: str) -> str:
        """Decode what `chunk` adds to the answer."""
        if self.done:
            return ""
        self._pending += chunk
        if not self._started:
            match = _ANSWER_START.match(self._pending)
            if match is None:
                return ""
            self._pending = self._pending[match.end() :]
            self._started = True
        out: list[str] = []
        pending = self._pending
        index = 0
        while index < len(pending):
            char = pending[index]
            if char == '"':
                self.done = True
                index = len(pending)
            elif char != "\\":
                out.append(char)
                index += 1
            else:
                decoded = _unescape(pending, index)
                if decoded is None:
                    break
                text, index = decoded
                out.append(text)
        self._pending = pending[index:]
        return "".join(out)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\", '"': '"'}
_UNICODE_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")


def _unescape(text: str, index: int) -> tuple[str, int] | None:
    """The character escaped at `text[index]` (a backslash) and the index after it; None if incomplete."""
    if index + 1 >= len(text):
        return None
    if text[index + 1] != "u":
        return _ESCAPES.get(text[index + 1], text[index + 1]), index + 2
    if len(text) < index + 6:
        return None
    match = _UNICODE_ESCAPE.match(text, index)
    if match is None:
        return "\ufffd", index + 2
    code = int(match.group(1), 16)
    if 0xD800 <= code < 0xDC00:
        if len(text) < index + 12:
            return None
        low = _UNICODE_ESCAPE.match(text, index + 6)
        if low is not None and 0xDC00 <= (low_code := int(low.group(1), 16)) < 0xE000:
            return chr(0x10000 + ((code - 0xD800) << 10) + (low_code - 0xDC00)), index + 12
        return "\ufffd", index + 6
    if 0xDC00 <= code < 0xE000:
        return "\ufffd", index + 6
    return chr(code), index + 6


class ReplyStream:
    """Decides, while a reply streams in, which text can go to the user before the reply is complete.

    With `json_answers` (constrained output) the reply is `{"answer": "..."}` or `{"tool_calls": ...}`:
    the decoded answer streams, tool calls are held. Otherwise plain text streams until a `{` or a code
    fence appears (a reply that starts with one is held whole), and what is held is judged at the end.
    """

    def __init__(self, tools: Sequence[ToolDefinition], *, json_answers: bool) -> None:
        self._tools = tools
        self._answer = AnswerStream() if json_answers else None
        self.text = ""
        # How far into `text` has been emitted or skipped; the rest is pending or held.
        self._position: int = 0
        self._emitted = ""
        self._holding = False

    def feed(self, chunk: str) -> str:
        """Take the next piece of the reply; returns the text that can be shown now."""
        self.text += chunk
        if self._answer is not None:
            piece = self._answer.feed(chunk)
            self._emitted += piece
            return piece
        if self._holding:
            return ""
        pending = self.text[self._position :]
        if not self._emitted:
            stripped = pending.lstrip()
            self._position += len(pending) - len(stripped)
            pending = stripped
            if not pending:
                return ""
            if pending[0] in "{[`":
                self._holding = True
                return ""
        cut = min((i for i in (pending.find("{"), pending.find("```")) if i >= 0), default=-1)
        if cut >= 0:
            self._holding = True
        else:
            cut = len(pending.rstrip("`"))
        piece = pending[:cut]
        self._position += cut
        self._emitted += piece
        return piece

    def finish(self) -> tuple[ParsedReply, str]:
        """The whole reply parsed, and the answer text not shown yet (empty for tool calls)."""
        parsed = parse_reply(self.text, self._tools)
        if parsed.calls or parsed.error is not None:
            return parsed, ""
        if not self._emitted:
            return parsed, parsed.text
        if self._answer is not None:
            return parsed, parsed.text[len(self._emitted) :] if parsed.text.startswith(self._emitted) else ""
        return parsed, self.text[self._position :].rstrip()
