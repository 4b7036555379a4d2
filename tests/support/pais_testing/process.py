"""A subprocess that is started for a test and always stopped afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ManagedProcess", "pais_server_process"]


class ManagedProcess:
    """Runs `argv` with its output captured to a temporary log file.

    Use as a context manager; `stop()` sends SIGTERM, then SIGKILL after `grace` seconds.
    """

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
    ) -> None:
        self.argv = list(argv)
        self.env = dict(os.environ if env is None else env)
        self.cwd = cwd
        self._log = tempfile.NamedTemporaryFile(prefix="pais-proc-", suffix=".log", delete=False)  # noqa: SIM115
        self.log_path = Path(self._log.name)
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Self:
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=self.cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def output(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def stop(self, grace: float = 10.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait(5)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def pais_server_process(env: Mapping[str, str], *, port: int) -> ManagedProcess:
    """`python -m pais_server` with the given environment on `port` (not yet started)."""
    full = {**os.environ, **env, "AGENT_PORT": str(port)}
    full.setdefault("AGENT_NAME", "test-agent")
    # Scripted models call tools natively but are not scripted to answer the auto-mode probe.
    full.setdefault("TOOL_CALL_MODE", "native")
    return ManagedProcess([sys.executable, "-m", "pais_server"], env=full)
