"""Start-up and footprint of `recalld serve`, as a user meets them. Not part of the test suite.

    .venv/bin/python bench/startup.py [--runs 3] [--json OUT]

Each run starts a server on a new data directory (the default offline model and local
embedder), stops it, and starts it again on the same directory (a restart: the embedding
model's graph was kept there by the first start). Each start measures, from the moment the
process is started: when /v1/health first answers 200, when the first turn (a new agent, one
message) is answered, and when the first archival search is answered; and the server's resident
memory (VmRSS) right after health answers, after the turn and after the search. Medians over
the runs, for first starts and restarts apart.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))

from live_server import BIN, clean_env, free_port  # noqa: E402  (tests/support)


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def one_start(home: str, name: str) -> dict[str, float]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    process = subprocess.Popen(
        [str(BIN / "recalld"), "serve", "--port", str(port)],
        env=clean_env(RECALLD_HOME=home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = started + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/v1/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.02)
        healthy = time.monotonic() - started
        rss_healthy = rss_mb(process.pid)
        agent = httpx.post(url + "/v1/agents", json={"name": name}, timeout=60).json()
        said = {"messages": [{"role": "user", "content": "My name is Ada and I live in Porto"}]}
        turn = httpx.post(url + f"/v1/agents/{agent['id']}/messages", json=said, timeout=60)
        assert turn.is_success, turn.text
        answered = time.monotonic() - started
        rss_turn = rss_mb(process.pid)
        found = httpx.get(url + f"/v1/agents/{agent['id']}/archival?query=Porto", timeout=60)
        assert found.is_success, found.text
        searched = time.monotonic() - started
        rss_search = rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    return {
        "health_s": healthy,
        "first_turn_s": answered,
        "first_search_s": searched,
        "rss_after_health_mb": rss_healthy,
        "rss_after_turn_mb": rss_turn,
        "rss_after_search_mb": rss_search,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    runs = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as home:
            runs.append({"first": one_start(home, "first"), "restart": one_start(home, "again")})
    medians = {
        start: {
            key: round(statistics.median(r[start][key] for r in runs), 2) for key in runs[0][start]
        }
        for start in ("first", "restart")
    }
    out = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "runs": runs,
        "medians": medians,
    }
    print(json.dumps(medians, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
