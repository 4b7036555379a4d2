"""The history a run replays: bounded by turns and tokens, headed by the session's running summary.

Whole turns are dropped oldest first (a tool call never leaves without its return); a single tool
result larger than a quarter of the budget is shortened with a marker instead. With
`MEMORY_ROLLING_SUMMARY`, a run that left stored turns out schedules a summarisation after its
answer; see `Summariser`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic_ai.messages import BaseToolReturnPart, ModelMessage, ModelRequest, SystemPromptPart

from pais_core import PaisError, SessionBusyError, Settings
from pais_memory import Memory, StoredTurn, Summary

from ._summariser import Summariser
from ._tokens import PART_OVERHEAD, estimate_tokens, messages_tokens

__all__ = ["BoundedHistory", "History"]

logger = logging.getLogger("pais_server.history")

SUMMARY_HEADING = "Summary of the earlier conversation:"


@dataclass(frozen=True)
class BoundedHistory:
    messages: list[ModelMessage]
    overflow: bool = False
    """Stored turns were left out that no summary covers yet."""


class History:
    """Loads bounded history for runs and, with rolling summaries, keeps each session's summary current.

    Summaries run as background tasks owned by this object (`drain` waits for them), at most one
    per session at a time: one per replica through `_running`, one across replicas through the
    memory's summary lock.
    """

    def __init__(self, memory: Memory, settings: Settings, summariser: Summariser | None = None) -> None:
        self.memory = memory
        self._limit = settings.memory_context_limit
        self._budget = settings.memory_short_term_token_budget
        self._max_turns = settings.memory_max_session_events
        self._summariser = summariser if settings.memory_rolling_summary else None
        self._running: dict[str, asyncio.Task[None]] = {}

    async def load(
        self, session_id: str, *, texts: Sequence[str | None], messages: Sequence[ModelMessage] = ()
    ) -> BoundedHistory:
        """Stored history for a run that also sends `texts` (prompt, instructions) and `messages`."""
        if self._budget is None and self._summariser is None:
            return BoundedHistory(await self.memory.load_history(session_id, turns=self._limit))
        # with summaries, one turn beyond the limit tells whether something fell out of it
        beyond = 1 if self._summariser is not None else 0
        window = await self.memory.load_window(session_id, turns=self._limit + beyond)
        summary = window.summary
        turns = [turn for turn in window.turns if summary is None or turn.seq >= summary.until_seq]
        overflow = len(turns) > self._limit
        turns = turns[-self._limit :] if self._limit else []
        head = [summary_message(summary)] if summary is not None else []
        if self._budget is not None:
            fixed = sum(estimate_tokens(text) + PART_OVERHEAD for text in texts if text)
            available = self._budget - fixed - messages_tokens([*head, *messages])
            kept = keep_newest([shorten_tool_results(turn, self._budget // 4) for turn in turns], max_tokens=available)
            overflow = overflow or len(kept) < len(turns)
            turns = kept
        return BoundedHistory([*head, *(m for turn in turns for m in turn.messages)], overflow=overflow)

    def after_turn(self, session_id: str, history: BoundedHistory) -> None:
        """Summarise in the background what the run left out (call once its answer is stored)."""
        if self._summariser is None or not history.overflow or session_id in self._running:
            return
        task = asyncio.get_running_loop().create_task(self._summarise(session_id))
        self._running[session_id] = task
        task.add_done_callback(lambda _: self._running.pop(session_id, None))

    async def drain(self) -> None:
        """Wait for summaries still being written."""
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def _summarise(self, session_id: str) -> None:
        assert self._summariser is not None
        try:
            async with self.memory.summary_lock(session_id, timeout=0):
                window = await self.memory.load_window(session_id, turns=self._max_turns)
                since = window.summary.until_seq if window.summary is not None else 0
                turns = [turn for turn in window.turns if turn.seq >= since]
                keep = len(self._replayed_after_summary(turns))
                if keep == len(turns):
                    return
                previous = window.summary.text if window.summary is not None else ""
                dropped, kept = turns[: len(turns) - keep], turns[len(turns) - keep :]
                text = await self._summariser.summarise(previous, [turn.messages for turn in dropped])
                await self.memory.put_summary(session_id, text, until_seq=kept[0].seq)
        except SessionBusyError:
            pass  # another replica is summarising this session
        except Exception as exc:  # a model or backend failure; the next overflowing turn tries again
            detail = exc.message if isinstance(exc, PaisError) else f"{type(exc).__name__}: {exc}"
            logger.warning("could not summarise session %s (%s); its previous summary stays", session_id, detail)

    def _replayed_after_summary(self, turns: list[StoredTurn]) -> list[StoredTurn]:
        """The newest turns left out of a new summary: about half the limit and half the budget, at least one.

        Summarising down to half, not just what overflowed, makes the next summarisation several
        turns away instead of one.
        """
        half_limit = max(self._limit // 2, 1)
        kept = turns[-half_limit:]
        if self._budget is not None:
            kept = keep_newest(kept, max_tokens=self._budget // 2) or kept[-1:]
        return kept


def summary_message(summary: Summary) -> ModelMessage:
    """The summary as a system message, given to the model before the kept turns."""
    return ModelRequest(parts=[SystemPromptPart(content=f"{SUMMARY_HEADING}\n{summary.text}")])


def keep_newest(turns: list[StoredTurn], *, max_tokens: int) -> list[StoredTurn]:
    """The newest whole turns whose tokens add up to at most `max_tokens`."""
    used = 0
    start = len(turns)
    while start > 0:
        cost = messages_tokens(turns[start - 1].messages)
        if used + cost > max_tokens:
            break
        used += cost
        start -= 1
    return turns[start:]


def shorten_tool_results(turn: StoredTurn, max_tokens: int) -> StoredTurn:
    """The turn with every tool result over `max_tokens` cut to fit, ending in a marker."""
    changed = False
    messages: list[ModelMessage] = []
    for message in turn.messages:
        if isinstance(message, ModelRequest) and any(_oversized(p, max_tokens) for p in message.parts):
            parts = [
                _shortened(p, max_tokens) if isinstance(p, BaseToolReturnPart) and _oversized(p, max_tokens) else p
                for p in message.parts
            ]
            message = dataclasses.replace(message, parts=parts)
            changed = True
        messages.append(message)
    return StoredTurn(seq=turn.seq, messages=messages) if changed else turn


def _oversized(part: object, max_tokens: int) -> bool:
    return isinstance(part, BaseToolReturnPart) and estimate_tokens(part.model_response_str()) > max_tokens


def _shortened(part: BaseToolReturnPart, max_tokens: int) -> BaseToolReturnPart:
    text = part.model_response_str()
    marker = f"\n[tool result shortened by PAIS: about {estimate_tokens(text)} tokens, only the start is kept]"
    room = max(max_tokens - estimate_tokens(marker), 0)
    head = text
    while head and (tokens := estimate_tokens(head)) > room:
        head = head[: min(len(head) - 1, len(head) * room // tokens)]
    return dataclasses.replace(part, content=head + marker)
