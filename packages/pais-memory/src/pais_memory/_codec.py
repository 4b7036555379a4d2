"""Serialisation of native Pydantic AI messages, shared by backends that store bytes."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pydantic
from pydantic_ai.messages import ModelMessage, ModelMessagesTypeAdapter

__all__ = ["decode_turn_list", "decode_turns", "encode_turn"]


_TURN_LIST = pydantic.TypeAdapter(
    list[list[ModelMessage]],
    config=pydantic.ConfigDict(defer_build=True, ser_json_bytes="base64", val_json_bytes="base64"),
)


def encode_turn(messages: Sequence[ModelMessage]) -> bytes:
    """Encode one turn's messages as JSON."""
    return ModelMessagesTypeAdapter.dump_json(list(messages))


def decode_turns(turns: Iterable[bytes]) -> list[ModelMessage]:
    """Decode stored turns into one flat, oldest-first message list (one JSON parse for all)."""
    inner = [turn[1:-1] for turn in turns if len(turn) > 2]  # each turn is a JSON array
    if not inner:
        return []
    return ModelMessagesTypeAdapter.validate_json(b"[" + b",".join(inner) + b"]")


def decode_turn_list(turns: Sequence[bytes]) -> list[list[ModelMessage]]:
    """Decode stored turns keeping each turn's messages apart (still one JSON parse for all)."""
    if not turns:
        return []
    return _TURN_LIST.validate_json(b"[" + b",".join(turns) + b"]")
