"""Serialisation of native Pydantic AI messages, shared by backends that store bytes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

__all__ = ["decode_turns", "encode_turn"]


def encode_turn(messages: Sequence[ModelMessage]) -> bytes:
    """Encode one turn's messages as JSON."""
    return ModelMessagesTypeAdapter.dump_json(list(messages))


def decode_turns(turns: Iterable[bytes | str]) -> list[ModelMessage]:
    """Decode stored turns into one flat, oldest-first message list."""
    history: list[ModelMessage] = []
    for turn in turns:
        history.extend(ModelMessagesTypeAdapter.validate_json(turn))
    return history
