"""Start `recalld serve` as a real process on a free loopback port, as a user would.

Its output goes to a temporary file, not a pipe: a pipe nobody reads until `stop` fills after
64 KB, and a server that logs that much would block on its next line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECALLD_")}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env.update(extra)
    return env


class LiveServer:
    def __init__(self, home: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = clean_env(RECALLD_HOME=str(home), **env)
        self.process: subprocess.Popen[str] | None = None
        self.output = tempfile.TemporaryFile("w+")  # noqa: SIM115 (as long as the server object)

    def start(self, timeout: float = 60.0) -> LiveServer:
        self.process = subprocess.Popen(
            [str(BIN / "recalld"), "serve", "--port", str(self.port)],
            env=self.env,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited: {self.read()}")
            try:
                if httpx.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not start in time")

    def stop(self) -> str:
        if self.process is None:
            return ""
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        return self.read()

    def read(self) -> str:
        """What the server has written so far."""
        self.output.flush()
        self.output.seek(0)
        return self.output.read()

    def cli(self, *args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN / "recalld"), "--url", self.url, *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
