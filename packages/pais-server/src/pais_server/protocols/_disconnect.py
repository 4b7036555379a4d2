"""`X-PAIS-On-Disconnect`: whether a streamed run stops when its client goes away."""

from __future__ import annotations

from collections.abc import Mapping

from pais_core import BadRequestError

__all__ = ["ON_DISCONNECT_HEADER", "cancels_on_disconnect"]

ON_DISCONNECT_HEADER = "X-PAIS-On-Disconnect"


def cancels_on_disconnect(headers: Mapping[str, str]) -> bool:
    """Whether the request asks its run to stop when its client disconnects mid-stream.

    `X-PAIS-On-Disconnect: cancel` stops it; `continue` (the default) lets it finish.

    Raises:
        BadRequestError: the header has another value.
    """
    value = headers.get(ON_DISCONNECT_HEADER, "continue").strip().lower()
    if value not in ("cancel", "continue"):
        raise BadRequestError(f"{ON_DISCONNECT_HEADER} must be 'cancel' or 'continue', not {value!r}")
    return value == "cancel"
