"""A scale-out deployment on loopback, as docs/deploy.md lays it out: one Chroma server, one
PostgreSQL database, two `recalld serve` replicas and one `recalld worker`, each a real process
with a home of its own, so that all they share is the database and the Chroma server.

All three recalld processes start at once on a new database, as a compose file starts them.
Each process writes its output to a file; `Deployment.logs()` gives it for failure messages.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
from live_server import BIN, clean_env, free_port
from openai_stub import OpenAIStub

import tests.conftest as root
from agent_runtime.embedding.fake import FakeEmbedder

START_SECONDS = 90.0  # three processes loading the local embedding model on 2 cores


class Process:
    """One process of the deployment, its output kept in a file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("wb")
        self.popen = subprocess.Popen(
            self.args, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def exited(self) -> bool:
        return self.popen is None or self.popen.poll() is not None

    def wait_until(self, ready: Any, what: str, timeout: float = START_SECONDS) -> None:
        """Poll `ready()` until it is true; fail with the output if the process exits first."""
        deadline = time.monotonic() + timeout
        while not ready():
            if self.exited():
                raise RuntimeError(f"{self.name} exited before {what}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: no {what} in {timeout:g}s:\n{self.output()}")
            time.sleep(0.1)

    def kill(self) -> None:
        """SIGKILL, and reap it: a zombie's pid would still look alive to its peers."""
        assert self.popen is not None
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(10)
        self._close_log()

    def stop(self) -> int | None:
        """SIGTERM (the current steps finish), SIGKILL if it takes too long; the exit code."""
        if self.popen is None:
            return None
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(20)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._close_log()
        return self.popen.returncode

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


class Replica(Process):
    """`recalld serve` on a free loopback port, with a client for it."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = [str(BIN / "recalld"), "serve", "--host", "127.0.0.1", "--port", str(self.port)]
        super().__init__(name, args, env, log_dir)
        self.client = httpx.Client(base_url=self.url, timeout=60)

    def healthy(self) -> bool:
        try:
            return self.client.get("/v1/health", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    def wait_healthy(self) -> None:
        self.wait_until(self.healthy, "health")

    def stop(self) -> int | None:
        self.client.close()
        return super().stop()

    def kill(self) -> None:
        super().kill()
        self.client.close()


@dataclass(frozen=True)
class Shared:
    """What every recalld process of the deployment is given; only its home differs."""

    database_url: str
    chroma_url: str
    embeddings_url: str  # litellm's OpenAI base URL, for agents with an openai/ embedding
    homes: Path
    log_dir: Path

    def env(self, name: str) -> dict[str, str]:
        return clean_env(
            RECALLD_HOME=str(self.homes / name),
            RECALLD_DATABASE_URL=self.database_url,
            RECALLD_CHROMA_URL=self.chroma_url,
            RECALLD_DEFAULT_EMBEDDING="local",
            RECALLD_BUSY_WAIT_SECONDS="1",  # a refused turn comes back soon
            RECALLD_WORKER_POLL_SECONDS="0.1",
            OPENAI_API_KEY="sk-test",
            OPENAI_API_BASE=self.embeddings_url,
        )

    def replica(self, name: str) -> Replica:
        return Replica(name, self.env(name), self.log_dir)

    def worker(self, name: str) -> Process:
        return Process(name, [str(BIN / "recalld"), "worker"], self.env(name), self.log_dir)


@dataclass
class Deployment:
    shared: Shared
    a: Replica
    b: Replica
    worker: Process
    embeddings: OpenAIStub  # what every process asked an openai/ embedding model for
    extra: list[Process] = field(default_factory=list)

    @property
    def replicas(self) -> tuple[Replica, Replica]:
        return (self.a, self.b)

    def replica(self, name: str) -> Replica:
        """Another replica of the same deployment, started and healthy."""
        replica = self.shared.replica(name)
        self.extra.append(replica)
        replica.start()
        replica.wait_healthy()
        return replica

    def logs(self) -> str:
        processes = [self.a, self.b, self.worker, *self.extra]
        return "\n".join(f"--- {p.name}\n{p.output()[-4000:]}" for p in processes)


def embedded(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """An OpenAI embeddings response: FakeEmbedder's vectors, deterministic in every process."""
    texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
    vectors = FakeEmbedder().embed(texts)
    data = [
        {"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)
    ]
    usage = {"prompt_tokens": len(texts), "total_tokens": len(texts)}
    return 200, {"object": "list", "model": "stub-embedding", "data": data, "usage": usage}


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Chroma server from the installed chromadb package, its data in a temporary folder."""
    folder = tmp_path_factory.mktemp("chroma")
    port = free_port()
    server = Process(
        "chroma",
        [
            str(BIN / "chroma"),
            "run",
            "--path",
            str(folder / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],  # fmt: skip
        clean_env(ANONYMIZED_TELEMETRY="False"),
        folder,
    )
    url = f"http://127.0.0.1:{port}"

    def beating() -> bool:
        try:
            return httpx.get(f"{url}/api/v2/heartbeat", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    server.start()
    try:
        server.wait_until(beating, "heartbeat", timeout=30)
        yield url
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    name, url = root._fresh_pg_database()
    try:
        yield url
    finally:
        root._drop_pg_database(name)


@pytest.fixture(scope="module")
def deployment(
    chroma_url: str, pg_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    with OpenAIStub(responder=embedded) as embeddings:
        shared = Shared(
            pg_database,
            chroma_url,
            embeddings.url,
            tmp_path_factory.mktemp("homes"),
            tmp_path_factory.mktemp("logs"),
        )
        a, b, worker = (
            shared.replica("replica-a"),
            shared.replica("replica-b"),
            shared.worker("worker"),
        )
        deployment = Deployment(shared, a, b, worker, embeddings)
        processes = [a, b, worker]
        try:
            for process in processes:  # together, on the new database
                process.start()
            a.wait_healthy()
            b.wait_healthy()
            worker.wait_until(lambda: "job worker(s)" in worker.output(), "workers running")
            yield deployment
        finally:
            for process in [*deployment.extra, *processes]:
                process.stop()
