"""Shared benchmark plumbing: start a server process, load it with wrk, report ratios."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

CHAT_BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "What is the answer?"}]})


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: Sequence[str], cpu: int) -> list[str]:
    """Pin a process to one core (when taskset exists) so server and load generator don't fight."""
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else list(argv)


def require_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None:
        sys.exit("wrk is needed for the load benchmarks: apt-get install wrk")
    return wrk


@dataclass
class Started:
    proc: subprocess.Popen[bytes]
    url: str
    ready_seconds: float

    def rss_mib(self) -> float:
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        return int(match.group(1)) / 1024 if match else float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def start_server(
    argv: Sequence[str], *, port: int, ready_path: str = "/health", env: Mapping[str, str] | None = None
) -> Started:
    """Start `argv` and wait until `ready_path` answers 200; time from spawn to ready."""
    started = time.perf_counter()
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the server; a pipe could fill and block it
    proc = subprocess.Popen(
        pinned(argv, 0), env={**os.environ, **(env or {})}, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log
    )
    url = f"http://127.0.0.1:{port}"
    deadline = started + 60
    while time.perf_counter() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"{argv} exited: {log.read().decode(errors='replace')[-3000:]}")
        try:
            if httpx.get(url + ready_path, timeout=0.5).status_code == 200:
                return Started(proc, url, time.perf_counter() - started)
        except httpx.HTTPError:
            pass
        time.sleep(0.005)
    proc.kill()
    raise RuntimeError(f"{argv} did not become ready")


def start_mock_pais(answer: str, env: Mapping[str, str]) -> Started:
    """`python -m pais_server` named `bench` whose instant mock model always says `answer`, once `/ready`;
    `env` adds to (or overrides) its settings."""
    port = free_port()
    settings = {
        "AGENT_NAME": "bench",
        "AGENT_PORT": str(port),
        "DEBUG_MOCK_RESPONSES": json.dumps([answer]),
        "LOG_LEVEL": "WARNING",
        **env,
    }
    return start_server([sys.executable, "-m", "pais_server"], port=port, ready_path="/ready", env=settings)


def uvicorn_argv(factory: str, port: int, app_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "--factory", factory, "--app-dir", str(app_dir),
        "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


@dataclass
class Load:
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    p75_ms: float = float("nan")
    p90_ms: float = float("nan")


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        return float("nan")
    return float(match.group(1)) * _UNITS[match.group(2)]


def rotating_sessions(prefix: str, count: int) -> str:
    """A wrk `request()` (for `wrk(lua=...)`) sending each request as the next of `count` sessions, `<prefix><n>`."""
    return f"""
local n = 0
request = function()
  n = n + 1
  wrk.headers["X-Session-ID"] = "{prefix}" .. (n % {count})
  return wrk.format()
end
"""


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    body: str = CHAT_BODY,
    headers: Mapping[str, str] | None = None,
    lua: str = "",
) -> Load:
    """POST `body` to `url` with `connections` concurrent keep-alive clients for `seconds`.

    `lua` is appended to the wrk script (e.g. a `request()` function that varies each request).
    """
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    lines = [
        'wrk.method = "POST"',
        f"wrk.body = {json.dumps(body)}",
        *(f'wrk.headers["{k}"] = {json.dumps(v)}' for k, v in all_headers.items()),
        lua,
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines) + "\n")
    try:
        argv = [require_wrk(), "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "-s", script.name, url]
        out = subprocess.run(pinned(argv, 1), capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    percentiles = {q: _ms(v) for q, v in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)$", out, re.MULTILINE)}
    nan = float("nan")
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    errors += int(non_2xx.group(1)) if non_2xx else 0
    return Load(
        connections,
        rps,
        percentiles.get("50", nan),
        percentiles.get("99", nan),
        errors,
        p75_ms=percentiles.get("75", nan),
        p90_ms=percentiles.get("90", nan),
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def save(name: str, data: object) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=lambda o: asdict(o)))
    return path


def count_instructions(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str] | None = None) -> int:
    """CPU instructions valgrind's cachegrind counts for the whole process `argv` (needs `apt-get install valgrind`)."""
    valgrind = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    out = subprocess.run([*valgrind, *argv], capture_output=True, text=True, check=True, cwd=cwd, env=env).stderr
    match = re.search(r"I\s+refs:\s+([\d,]+)", out)
    if match is None:
        raise RuntimeError(f"no instruction count from valgrind:\n{out[-2000:]}")
    return int(match.group(1).replace(",", ""))
