"""The multi-agent system of the e2e suite, as base URLs (`E2ETarget`), on two targets.

- `LocalStack` starts it as real processes on loopback, with the environment of the kind e2e
  overlay (rendered by `e2e_manifests`) and in-cluster service URLs rewritten to local stand-ins:
  redis-server for `redis`, SmolLM2 (llama.cpp) for `ollama`, the scripted model for `e2e-support`.
- `kind_target()` reads the URLs that scripts/kind-e2e.sh exports after its port-forwards.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from types import TracebackType

import httpx

from .e2e_manifests import KIND_DIR, agent_deployments, container_env, render, rewrite_service_urls
from .e2e_model import ORCHESTRATOR_MODEL, orchestrator_model
from .ports import free_port, wait_for_port
from .process import ManagedProcess, pais_server_process
from .scripted_model import ScriptedModelServer
from .smollm2 import SmolLM2Server, smollm2_available

__all__ = ["KIND_ENV", "E2ETarget", "LocalStack", "kind_target"]

# What scripts/kind-e2e.sh exports for the kind target.
KIND_ENV = {
    "orchestrators": "PAIS_E2E_ORCHESTRATOR_URLS",
    "worker-a": "PAIS_E2E_WORKER_A_URL",
    "worker-b": "PAIS_E2E_WORKER_B_URL",
}
E2E_OVERLAY = KIND_DIR / "overlays" / "e2e"


@dataclass(frozen=True)
class E2ETarget:
    """Where the system under test answers.

    `orchestrators` are the base URLs of the two orchestrator replicas, one each (not a load
    balancer), so a test can write through one and read through the other. `trace_endpoint` is
    the OTLP/HTTP receiver's base URL the agents export to, when the target has one.
    """

    name: str
    orchestrators: tuple[str, str]
    workers: Mapping[str, str]
    real_llm: bool
    trace_endpoint: str | None = None
    logs: Mapping[str, str] = field(default_factory=dict[str, str])

    @property
    def agents(self) -> dict[str, str]:
        """Every agent instance by a readable name."""
        replicas = {f"orchestrator#{i + 1}": url for i, url in enumerate(self.orchestrators)}
        return {**replicas, **self.workers}


def kind_target() -> E2ETarget | None:
    """The kind target from the environment, or None when the kind scripts did not set it."""
    values = {key: os.environ.get(variable, "") for key, variable in KIND_ENV.items()}
    if not all(values.values()):
        return None
    first, _, second = values["orchestrators"].partition(",")
    if not second:
        raise ValueError(f"{KIND_ENV['orchestrators']} must hold two comma-separated URLs (one per replica)")
    return E2ETarget(
        name="kind",
        orchestrators=(first.strip(), second.strip()),
        workers={"worker-a": values["worker-a"], "worker-b": values["worker-b"]},
        real_llm=True,
    )


class LocalStack:
    """Redis, the model servers, orchestrator x2 and two workers as loopback processes.

    Use as a context manager; everything started is stopped on exit, also after a failed start.
    `trace_endpoint`, when given, is where the agents export OTLP/HTTP (else telemetry is off).
    """

    def __init__(self, *, trace_endpoint: str | None = None) -> None:
        self.trace_endpoint = trace_endpoint
        self._stack = ExitStack()
        self.agents: dict[str, ManagedProcess] = {}
        self.model = ScriptedModelServer(orchestrator_model)
        self.model.model_name = ORCHESTRATOR_MODEL
        self.target: E2ETarget | None = None

    def start(self) -> E2ETarget:
        try:
            return self._start()
        except BaseException:
            self._stack.close()
            raise

    def _start(self) -> E2ETarget:
        redis_port = free_port()
        redis_argv = [_redis_server(), "--port", str(redis_port), "--bind", "127.0.0.1", "--save", ""]
        self._stack.enter_context(ManagedProcess(redis_argv))
        wait_for_port(redis_port, timeout=15)
        self._stack.callback(self.model.stop)
        self.model.start()
        real_llm = smollm2_available()
        if real_llm:
            llm = SmolLM2Server()
            self._stack.callback(llm.stop)
            llm.start()
            ollama = llm.url.removesuffix("/v1").removeprefix("http://")
        else:
            ollama = f"127.0.0.1:{free_port()}"  # nothing listens: worker-b's model is down
        ports = {name: free_port() for name in ("orchestrator-1", "orchestrator-2", "worker-a", "worker-b")}
        services = {
            "redis": f"127.0.0.1:{redis_port}",
            "ollama": ollama,
            "e2e-support": self.model.base_url.removeprefix("http://"),
            "worker-a": f"127.0.0.1:{ports['worker-a']}",
            "worker-b": f"127.0.0.1:{ports['worker-b']}",
        }
        if self.trace_endpoint:
            services["otel-collector"] = self.trace_endpoint.removeprefix("http://")
        deployments = agent_deployments(render(E2E_OVERLAY))
        for instance, port in ports.items():
            deployment = instance.removesuffix("-1").removesuffix("-2")
            env = container_env(deployments[deployment])
            if not self.trace_endpoint:
                env = {k: v for k, v in env.items() if not k.startswith("OTEL_EXPORTER_")} | {"OTEL_ENABLED": "false"}
            process = pais_server_process(rewrite_service_urls(env, services), port=port)
            self.agents[instance] = self._stack.enter_context(process)
        urls = {instance: f"http://127.0.0.1:{port}" for instance, port in ports.items()}
        for instance, url in urls.items():
            _wait_healthy(self.agents[instance], f"{url}/health", instance=instance)
        self.target = E2ETarget(
            name="local",
            orchestrators=(urls["orchestrator-1"], urls["orchestrator-2"]),
            workers={"worker-a": urls["worker-a"], "worker-b": urls["worker-b"]},
            real_llm=real_llm,
            trace_endpoint=self.trace_endpoint,
            logs={instance: str(process.log_path) for instance, process in self.agents.items()},
        )
        return self.target

    def output(self, instance: str) -> str:
        """What one agent process printed so far."""
        return self.agents[instance].output()

    def stop(self) -> None:
        self._stack.close()

    def __enter__(self) -> E2ETarget:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()


def _wait_healthy(process: ManagedProcess, url: str, *, instance: str, timeout: float = 60.0) -> None:
    """Wait for `url` to answer 200, failing at once with the log if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.proc is not None and process.proc.poll() is not None:
            break
        try:
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{instance} did not become healthy at {url}; its output:\n{process.output()[-4000:]}")


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError("redis-server not found; install the Debian package: apt-get install redis-server")
    return found
