"""A throwaway `redis-server` on a free loopback port.

It can be killed and started again on the same port, to test outages and recovery. Without
persistence a restart comes back empty; with `durable=True` every write is in the append-only file
before Redis replies (`appendfsync always`), so a restart after SIGKILL keeps every acknowledged write.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from types import TracebackType

from .ports import free_port, wait_for_port

__all__ = ["RedisServer", "redis_server_binary"]


def redis_server_binary() -> str:
    """Path of `redis-server`; fails with the install hint when it is missing."""
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server not found; install the Debian package: apt-get install redis-server")
    return found


class RedisServer:
    """`redis-server` bound to 127.0.0.1 in a temporary directory; use as a context manager."""

    def __init__(self, *, port: int | None = None, durable: bool = False) -> None:
        self.port = port or free_port()
        self.durable = durable
        self._dir = tempfile.TemporaryDirectory(prefix="pais-redis-")
        self._log = Path(self._dir.name) / "redis.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RedisServer:
        """Start (or start again) on the same port: empty, or with the data written before if `durable`."""
        if self.running:
            return self
        argv = [
            redis_server_binary(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self._dir.name,
            "--save", "",
            *(("--appendonly", "yes", "--appendfsync", "always") if self.durable else ("--appendonly", "no")),
            "--daemonize", "no",
            "--logfile", str(self._log),
        ]  # fmt: skip
        self._proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            wait_for_port(self.port, timeout=15)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"redis-server did not start: {self.log()}") from None
        return self

    def kill(self) -> None:
        """Stop abruptly (SIGKILL), as a crashed or partitioned Redis would."""
        self._end(signal.SIGKILL)

    def stop(self) -> None:
        """Stop gracefully."""
        self._end(signal.SIGTERM)

    def _end(self, sig: int) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.send_signal(sig)
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def log(self) -> str:
        return self._log.read_text(errors="replace") if self._log.exists() else ""

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
        self._dir.cleanup()
