"""Many conversations at once against one `recalld serve` (issue 17's concurrency figures).

A real `recalld serve` process on loopback; N agents, one turn each, all sent at once; the agents'
model is an OpenAI-compatible stub in its own process that answers each request after
`--delay` seconds (asyncio, so it serves any number at once). Reported per size: wall time of
the burst, latency p50/p95/max, status counts, turns/s, and the server's CPU per turn during the
burst (from /proc, the background indexer included) and after it settled.

The server keeps its data in SQLite in a temporary home, or with `--database-url` (a PostgreSQL
server, e.g. postgresql://postgres@127.0.0.1:5432/test) in a fresh database created on that
server for the run and dropped after it.

    .venv/bin/python bench/load.py --turns 100 500 --json bench/out/load.json
    .venv/bin/python bench/load.py --turns 101 501 \
        --database-url postgresql://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import nullcontext
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))
sys.path.insert(0, str(HERE))
from live_server import LiveServer, free_port  # noqa: E402 (tests/support, put on the path above)
from pgdb import fresh_database  # noqa: E402 (bench/pgdb.py)

TICKS = os.sysconf("SC_CLK_TCK")


def stub_main(port: int, delay: float) -> None:
    """The stub model: every chat completion answered after `delay` s."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def complete(request: Request) -> JSONResponse:
        await request.body()
        await asyncio.sleep(delay)
        message = {"role": "assistant", "content": "Noted, thank you."}
        return JSONResponse(
            {
                "id": "chatcmpl-load",
                "object": "chat.completion",
                "created": 1700000000,
                "model": "stub-model",
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 4, "total_tokens": 15},
            }
        )

    app = Starlette(routes=[Route("/v1/chat/completions", complete, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", backlog=4096)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


SHARD = 25  # connections per client: httpx scans its whole pool on every request


async def burst(url: str, agents: list[str], text: str) -> tuple[float, list[float], Counter]:
    """Every agent's turn sent at once, each on its own connection. The connections are spread
    over clients of `SHARD` each: one httpx client holding all 500 spent 7-15 ms of CPU a
    request in its pool (cost growing with the square of the connections), and could not itself
    send 500 requests to a bare 1 s stub in under 7 s."""
    shards = [agents[i : i + SHARD] for i in range(0, len(agents), SHARD)]
    limits = httpx.Limits(max_connections=SHARD, max_keepalive_connections=SHARD)
    clients = [httpx.AsyncClient(base_url=url, limits=limits, timeout=120) for _ in shards]
    try:

        async def one(client: httpx.AsyncClient, agent_id: str) -> tuple[float, int]:
            t = time.perf_counter()
            reply = await client.post(
                f"/v1/agents/{agent_id}/messages",
                json={"messages": [{"role": "user", "content": text}]},
            )
            return time.perf_counter() - t, reply.status_code

        t = time.perf_counter()
        results = await asyncio.gather(
            *(one(client, a) for client, shard in zip(clients, shards, strict=True) for a in shard)
        )
        wall = time.perf_counter() - t
    finally:
        for client in clients:
            await client.aclose()
    return wall, [s for s, _c in results], Counter(c for _s, c in results)


def run(
    turns: list[int], delay: float, embedding: str, env: dict[str, str], database_url: str | None
) -> dict:
    database = "postgresql" if database_url else "sqlite"
    out: dict = {"delay_s": delay, "embedding": embedding, "database": database, "env": env}
    out["sizes"] = []
    where = fresh_database(database_url) if database_url else nullcontext(None)
    with where as url, tempfile.TemporaryDirectory() as home:
        if url:
            env = env | {"RECALLD_DATABASE_URL": url}
        port = free_port()
        stub = subprocess.Popen([sys.executable, __file__, "--stub", str(port), str(delay)])
        try:
            server = LiveServer(Path(home), OPENAI_API_KEY="sk-load", **env).start()
        except BaseException:
            stub.terminate()
            stub.wait(10)
            raise
        assert server.process is not None
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                deadline = time.monotonic() + 30
                while True:  # the stub is up
                    try:
                        httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json={})
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, "the stub did not start"
                        time.sleep(0.1)
                for size in turns:
                    agents = [
                        client.post(
                            "/v1/agents",
                            json={
                                "name": f"load-{size}-{n}",
                                "model": "openai/stub-model",
                                "model_base_url": f"http://127.0.0.1:{port}/v1",
                                "embedding": embedding,
                                "memory": "tools",
                            },
                        ).json()["id"]
                        for n in range(size)
                    ]
                    # One warm turn elsewhere: litellm's first call, the embedder, SQLite caches.
                    asyncio.run(burst(server.url, agents[:1], "warm up, please"))
                    before = cpu_seconds(server.process.pid)
                    wall, latencies, codes = asyncio.run(
                        burst(server.url, agents[1:], "I moved to Porto last week.")
                    )
                    during = cpu_seconds(server.process.pid) - before
                    time.sleep(3.0)  # the indexer catches up with the burst's messages
                    settled = cpu_seconds(server.process.pid) - before
                    n = len(agents) - 1
                    row = {
                        "turns": n,
                        "wall_s": round(wall, 2),
                        "turns_per_s": round(n / wall, 1),
                        "latency_p50_s": round(pct(latencies, 50), 2),
                        "latency_p95_s": round(pct(latencies, 95), 2),
                        "latency_max_s": round(max(latencies), 2),
                        "statuses": dict(codes),
                        "server_cpu_ms_per_turn_during": round(during / n * 1000, 1),
                        "server_cpu_ms_per_turn_settled": round(settled / n * 1000, 1),
                    }
                    out["sizes"].append(row)
                    print(json.dumps(row), flush=True)
        finally:
            server.stop()
            stub.terminate()
            stub.wait(10)
    return out


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--stub":
        stub_main(int(sys.argv[2]), float(sys.argv[3]))
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, nargs="*", default=[100, 500])
    parser.add_argument("--delay", type=float, default=1.0, help="the model's answer time, s")
    parser.add_argument("--embedding", default="local", help="the agents' embedder")
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE for the server, repeatable"
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL server (postgresql://user@host:port/db): a fresh database per run",
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    env = dict(item.split("=", 1) for item in args.env)
    model = subprocess.getoutput("lscpu | sed -n 's/^Model name: *//p'").strip()
    result = {
        "machine": f"{model}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        **run(args.turns, args.delay, args.embedding, env, args.database_url),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
