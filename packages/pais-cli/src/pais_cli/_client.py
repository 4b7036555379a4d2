"""`pais invoke`, `card`, `sessions`, `events`, `approvals`, `approve`: talk to a running agent over HTTP."""

from __future__ import annotations

import json
import sys
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import httpx2
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text

from ._errors import CliError

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["agent_base_url", "approvals", "approve", "card", "describe_progress", "events", "invoke", "sessions"]

SESSION_HEADER = "X-Session-ID"


def agent_base_url(url: str) -> str:
    """The agent's base URL: `http://host:port`, also accepted with a trailing `/` or `/v1`."""
    base = url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise CliError(f"invalid URL {url!r}: expected http://host:port (the agent's base URL)")
    return base.removesuffix("/v1")


def invoke(url: str, message: str, *, session: str | None, stream: bool, timeout: float) -> None:
    """Send one user message; print the answer on stdout and the session id on stderr."""
    base = agent_base_url(url)
    body: dict[str, Any] = {"messages": [{"role": "user", "content": message}], "stream": stream}
    headers = {SESSION_HEADER: session} if session else {}
    with _client(timeout) as client, _request(client, "POST", f"{base}/v1/chat/completions", body, headers) as response:
        if stream:
            session_id, pending = _render_stream(response)
            session_id = session_id or response.headers.get(SESSION_HEADER)
        else:
            data = _json(response)
            _write_line(str(data["choices"][0]["message"].get("content") or ""))
            session_id = response.headers.get(SESSION_HEADER) or data.get("session_id")
            pending = _ids(data.get("pending_approvals"))
    if session_id:
        shown = escape(str(session_id))
        _stderr().print(f"[dim]session:[/] {shown}  [dim](follow up with --session {shown})[/]")
    for call_id in pending:
        _stderr().print(
            f"awaiting approval: {escape(call_id)}  [dim](decide with: pais approve {base} {escape(call_id)})[/]"
        )


def card(url: str, *, timeout: float) -> None:
    """Print the agent card as JSON."""
    base = agent_base_url(url)
    with _client(timeout) as client, _request(client, "GET", f"{base}/.well-known/agent-card.json") as response:
        _print_json(_json(response))


def sessions(url: str, *, limit: int | None, cursor: str | None, as_json: bool, timeout: float) -> None:
    """List the agent's memory sessions, one id per line (or the raw page with `as_json`)."""
    page = _memory_page(url, "sessions", {"limit": limit, "cursor": cursor}, timeout)
    if as_json:
        _print_json(page)
        return
    for session_id in page.get("sessions", []):
        _write_line(str(session_id))
    _page_footer(page, "sessions")


def events(url: str, *, session: str, limit: int | None, cursor: str | None, as_json: bool, timeout: float) -> None:
    """Show one session's events as a table (or the raw page with `as_json`)."""
    page = _memory_page(url, "events", {"session_id": session, "limit": limit, "cursor": cursor}, timeout)
    if as_json:
        _print_json(page)
        return
    table = Table("time", "type", "content", box=None, pad_edge=False)
    for event in page.get("events", []):
        content = event.get("content")
        shown = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        table.add_row(str(event.get("timestamp", "")), str(event.get("event_type", "")), _shorten(shown, 200))
    Console(highlight=False, soft_wrap=False).print(table)
    _page_footer(page, "events")


def approvals(
    url: str, *, session: str | None, limit: int | None, cursor: str | None, as_json: bool, timeout: float
) -> None:
    """List the tool calls awaiting approval as a table (or the raw page with `as_json`): of one session, or
    of a page of the paused runs awaiting approval in the sessions the caller may list."""
    base = agent_base_url(url)
    query = {k: v for k, v in {"session_id": session, "limit": limit, "cursor": cursor}.items() if v is not None}
    with _client(timeout) as client, _request(client, "GET", f"{base}/approvals", params=query) as response:
        page = _json(response)
    if as_json:
        _print_json(page)
        return
    table = Table("id", "tool", "arguments", "session", "requested by", "deadline", box=None, pad_edge=False)
    for approval in page.get("approvals", []):
        table.add_row(
            str(approval.get("id")),
            str(approval.get("tool")),
            _shorten(str(approval.get("arguments", "")), 80),
            str(approval.get("session_id")),
            str(approval.get("requested_by") or "-"),
            _deadline(approval.get("deadline"), expired=bool(approval.get("expired"))),
        )
    # ids whole on one line even when piped: they are what `pais approve` takes
    Console(highlight=False, soft_wrap=False, width=None if sys.stdout.isatty() else 1000).print(table)
    footer = f"[dim]{len(page.get('approvals', []))} awaiting approval"
    if page.get("next_cursor"):
        footer += f"; more with --cursor {escape(str(page['next_cursor']))}"
    _stderr().print(footer + "[/]")


def approve(
    url: str, call_id: str, *, deny: bool, reason: str | None, session: str | None, wait: float, timeout: float
) -> None:
    """Decide a call awaiting approval; print the resumed run's answer when it comes within `wait` seconds."""
    base = agent_base_url(url)
    body: dict[str, Any] = {"approved": not deny, **({"reason": reason} if reason else {})}
    with _client(max(timeout, wait + 10)) as client:
        session_id = session or _session_awaiting(client, base, call_id)
        params = {"session_id": session_id, "wait": wait}
        with _request(client, "POST", f"{base}/approvals/{call_id}", body, params=params) as response:
            decided = _json(response)
    verdict = "approved" if decided.get("approved") else "denied"
    if decided.get("timed_out"):
        verdict = "denied (its approval deadline had passed)"
    _stderr().print(f"{escape(call_id)} ({escape(str(decided.get('tool')))}) {verdict} in session {escape(session_id)}")
    status = decided.get("status")
    if status == "recorded":
        awaiting = ", ".join(_ids(decided.get("awaiting")))
        _stderr().print(f"[dim]the run resumes once these are decided too: {escape(awaiting)}[/]")
    elif status == "resumed":
        _stderr().print(
            "[dim]the run resumed; its answer goes to the session "
            f"(pais events {base} --session {escape(session_id)})[/]"
        )
    elif status == "failed":
        raise CliError(f"the resumed run failed: {decided.get('error', {}).get('message')}")
    else:
        _write_line(str(decided.get("output") or ""))
        for other in _ids(decided.get("pending_approvals")):
            _stderr().print(f"awaiting approval: {escape(other)}")


def _session_awaiting(client: httpx2.Client, base: str, call_id: str) -> str:
    """The one session with a call `call_id` awaiting approval, searched page by page."""
    found: list[str] = []
    cursor: str | None = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        with _request(client, "GET", f"{base}/approvals", params=params) as response:
            page = _json(response)
        found += [str(a.get("session_id")) for a in page.get("approvals", []) if a.get("id") == call_id]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if not found:
        raise CliError(
            f"no session of {base} has a call {call_id!r} awaiting approval (list them: pais approvals {base})"
        )
    if len(found) > 1:
        raise CliError(
            f"calls {call_id!r} await approval in several sessions ({', '.join(found)}): name one with --session"
        )
    return found[0]


def _ids(value: object) -> list[str]:
    """A JSON list of ids (`pending_approvals`, `awaiting`) as strings; [] when absent."""
    return [str(item) for item in cast(list[object], value)] if isinstance(value, list) else []


def _deadline(deadline: object, *, expired: bool) -> str:
    if not isinstance(deadline, int | float):
        return "-"
    shown = datetime.fromtimestamp(deadline, UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"{shown} (passed)" if expired else shown


def describe_progress(progress: Mapping[str, Any]) -> str:
    """One human line for a PAIS `progress` object of a stream chunk."""
    kind = progress.get("type")
    step = f"step {progress.get('step', '?')}/{progress.get('max_steps', '?')}"
    tool, target = progress.get("tool"), progress.get("target")
    failed = progress.get("success") is False
    if kind == "tool_call":
        return f"{step}: calling tool {tool}"
    if kind == "tool_result":
        return f"{step}: tool {tool} {'failed' if failed else 'returned'}"
    if kind == "delegation":
        return f"{step}: delegating to {target}"
    if kind == "delegation_result":
        return f"{step}: {target} {'failed' if failed else 'answered'}"
    return f"{step}: {kind}"


class _StreamView:
    """Streamed tokens on stdout and progress as a status line: live on a terminal, plain lines otherwise."""

    def __init__(self) -> None:
        self._out = Console(highlight=False, soft_wrap=True)
        self._text = Text()
        self._status = "waiting for the agent"
        self._live = Live(self._view(), console=self._out, refresh_per_second=12) if self._out.is_terminal else None

    def __enter__(self) -> _StreamView:
        if self._live is not None:
            self._live.start()
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.update(self._text)
            self._live.stop()
        elif self._text:
            sys.stdout.write("\n")
            sys.stdout.flush()

    def token(self, text: str) -> None:
        self._text.append(text)
        if self._live is not None:
            self._live.update(self._view())
        else:
            sys.stdout.write(text)
            sys.stdout.flush()

    def progress(self, progress: Mapping[str, Any]) -> None:
        self._status = describe_progress(progress)
        if self._live is not None:
            self._live.update(self._view())
        else:
            _stderr().print(f"[dim]… {escape(self._status)}[/]")

    def _view(self) -> RenderableType:
        return Group(self._text, Spinner("dots", Text(self._status, style="dim")))


def _render_stream(response: httpx2.Response) -> tuple[str | None, list[str]]:
    """Render an SSE chat stream; returns the session id the chunks carry, if any, and the calls awaiting approval."""
    session_id: str | None = None
    pending: list[str] = []
    with _StreamView() as view:
        for event in httpx2.EventSource(response):
            if event.data == "[DONE]":
                break
            chunk: dict[str, Any] = json.loads(event.data)
            if "error" in chunk:
                raise CliError(f"the agent failed mid-stream: {_error_text(chunk)}")
            session_id = chunk.get("session_id") or session_id
            pending += _ids(chunk.get("pending_approvals"))
            if progress := chunk.get("progress"):
                view.progress(progress)
            choices: list[dict[str, Any]] = chunk.get("choices") or []
            for choice in choices:
                delta: dict[str, Any] = choice.get("delta") or {}
                if content := delta.get("content"):
                    view.token(str(content))
    return session_id, pending


def _memory_page(url: str, kind: str, params: dict[str, Any], timeout: float) -> dict[str, Any]:
    base = agent_base_url(url)
    query = {k: v for k, v in params.items() if v is not None}
    with _client(timeout) as client, _request(client, "GET", f"{base}/memory/{kind}", params=query) as response:
        return _json(response)


def _page_footer(page: Mapping[str, Any], kind: str) -> None:
    shown = len(page.get(kind, []))
    footer = f"[dim]{shown} of {page.get('total', shown)} {kind}"
    if page.get("next_cursor"):
        footer += f"; more with --cursor {escape(str(page['next_cursor']))}"
    _stderr().print(footer + "[/]")


def _client(timeout: float) -> httpx2.Client:
    return httpx2.Client(timeout=httpx2.Timeout(timeout, connect=10.0))


@contextmanager
def _request(
    client: httpx2.Client,
    method: str,
    url: str,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
) -> Generator[httpx2.Response]:
    """Send a request and yield its streamed response; transport failures and non-2xx become `CliError`."""
    try:
        with client.stream(method, url, json=body, headers=headers, params=params) as response:
            if not response.is_success:
                response.read()
                raise CliError(f"{method} {url} answered HTTP {response.status_code}: {_error_text(_body(response))}")
            yield response
    except httpx2.ConnectError as exc:
        raise CliError(f"cannot reach {url}: {exc or 'connection failed'} (is the agent running?)") from None
    except httpx2.TimeoutException:
        raise CliError(f"{url} did not answer in time (raise --timeout for slow models)") from None
    except httpx2.HTTPError as exc:
        raise CliError(f"{method} {url} failed: {type(exc).__name__}: {exc}") from None


def _json(response: httpx2.Response) -> dict[str, Any]:
    response.read()
    try:
        return response.json()
    except ValueError:
        raise CliError(f"{response.url} answered with something that is not JSON: {response.text[:200]!r}") from None


def _body(response: httpx2.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _error_text(body: Any) -> str:
    """The message of an OpenAI error body (`{"error": {"message"}}`), else the body itself."""
    if isinstance(body, dict):
        fields = cast(dict[str, Any], body)
        error = fields.get("error")
        if isinstance(error, dict) and (message := cast(dict[str, Any], error).get("message")):
            return str(message)
        if detail := fields.get("detail"):
            return str(detail)
    return _shorten(str(cast(object, body)) or "(empty body)", 300)


def _print_json(data: Any) -> None:
    if sys.stdout.isatty():
        Console().print_json(data=data)
    else:
        _write_line(json.dumps(data, indent=2, ensure_ascii=False))


def _write_line(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def _shorten(text: str, width: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"
