"""SIGKILL trials: kill `recalld serve` mid-turn, restart it, and check that nothing was lost,
nothing ran twice, and the agent answers at once. Not part of the test suite.

    .venv/bin/python bench/crash.py [--trials 30] [--seed 1] [--json out.json]

Each trial sends a two-step turn (a tool call, then an answer) with an `Idempotency-Key` to a
real server whose model is an OpenAI-compatible stub on 127.0.0.1 (50-300 ms a call), kills the
server with SIGKILL at a random moment, starts it again, times the first turn it answers, and
retries the killed send with the same key. At the end the database is checked: every turn is
whole or cut at a step boundary, no key ran twice, counters match the rows, SQLite's integrity
check passes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import signal
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "support"))

from live_server import LiveServer  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402


def responder(rng: random.Random) -> Any:
    lock = threading.Lock()

    def reply(body: dict) -> tuple[int, dict]:
        with lock:
            time.sleep(rng.uniform(0.05, 0.3))
        messages = body["messages"]
        if not body.get("tools"):
            return 200, OpenAIStub.completion("summary of earlier turns")
        last = messages[-1]
        if last["role"] == "user":
            call = {
                "id": f"call_{len(messages)}",
                "type": "function",
                "function": {
                    "name": "archival_memory_insert",
                    "arguments": json.dumps({"content": "noted: " + last["content"]}),
                },
            }
            return 200, OpenAIStub.completion(None, [call])
        return 200, OpenAIStub.completion("done")

    return reply


def send(url: str, agent_id: str, text: str, key: str, timeout: float = 30) -> httpx.Response:
    return httpx.post(
        f"{url}/v1/agents/{agent_id}/messages",
        json={"messages": [{"role": "user", "content": text}]},
        headers={"Idempotency-Key": key},
        timeout=timeout,
    )


def check(db: Path, agent_id: str, keys: int) -> dict[str, Any]:
    conn = sqlite3.connect(db)
    try:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        rows = conn.execute(
            "SELECT turn_id, role, content, tool_calls FROM message WHERE agent_id = ? ORDER BY id",
            (agent_id,),
        ).fetchall()
        counted = conn.execute(
            "SELECT message_count FROM agent WHERE id = ?", (agent_id,)
        ).fetchone()[0]
        key_rows = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT key) FROM idempotency_key WHERE agent_id = ?",
            (agent_id,),
        ).fetchone()
    finally:
        conn.close()
    turns: dict[str, list[tuple[str, str, Any]]] = {}
    for turn_id, role, content, calls in rows:
        has_calls = bool(calls and json.loads(calls))  # a JSON column keeps None as 'null'
        turns.setdefault(turn_id, []).append((role, content, has_calls))
    torn = 0
    for messages in turns.values():
        # a turn is user, then (assistant with calls, tool)*, then maybe a final assistant:
        # cut only between steps, so a call never lacks its result
        for i, (role, _content, calls) in enumerate(messages):
            if (
                role == "assistant"
                and calls
                and (i + 1 >= len(messages) or messages[i + 1][0] != "tool")
            ):
                torn += 1
    users = [content for _t, role, content, _c in rows if role == "user"]
    return {
        "integrity": integrity,
        "messages": len(rows),
        "message_count_matches": counted == len(rows),
        "torn_steps": torn,
        "duplicated_inputs": len(users) - len(set(users)),
        "keys": key_rows[0],
        "keys_distinct": key_rows[1],
        "keys_expected_at_most": keys,
    }


def run(trials: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp, OpenAIStub(responder=responder(rng)) as stub:
        home = Path(tmp)
        env = {"OPENAI_API_KEY": "sk-bench", "RECALLD_WORKERS": "0"}
        server = LiveServer(home, **env).start()
        agent = httpx.post(
            f"{server.url}/v1/agents",
            json={
                "name": "crashy",
                "model": "openai/stub",
                "model_base_url": stub.url,
                "embedding": "fake",
            },
            timeout=30,
        ).json()
        agent_id = agent["id"]
        first_turn_s: list[float] = []
        busy_after_restart = 0
        retried: dict[str, int] = {"replayed": 0, "ran": 0, "failed": 0}
        for trial in range(trials):
            key = f"trial-{trial}"
            text = f"trial {trial}: remember the number {1000 + trial}"
            worker = threading.Thread(target=_quiet, args=(server.url, agent_id, text, key))
            worker.start()
            time.sleep(rng.uniform(0.02, 0.6))
            assert server.process is not None
            server.process.send_signal(signal.SIGKILL)
            server.process.wait(10)
            server.process = None
            worker.join(35)
            server = LiveServer(home, **env).start()
            start = time.perf_counter()
            probe = send(server.url, agent_id, f"probe {trial}", f"probe-{trial}")
            first_turn_s.append(time.perf_counter() - start)
            busy_after_restart += probe.status_code == 409
            again = send(server.url, agent_id, text, key)
            if again.status_code != 200:
                retried["failed"] += 1
            elif again.json()["replayed"]:
                retried["replayed"] += 1
            else:
                retried["ran"] += 1
        server.stop()
        report = check(home / "recalld.db", agent_id, keys=2 * trials)
    return {
        "trials": trials,
        "busy_after_restart": busy_after_restart,
        "first_turn_after_restart_p50_s": round(statistics.median(first_turn_s), 3),
        "first_turn_after_restart_max_s": round(max(first_turn_s), 3),
        "retries": retried,
        **report,
    }


def _quiet(url: str, agent_id: str, text: str, key: str) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server was killed under it: the trial
        send(url, agent_id, text, key)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = run(args.trials, args.seed)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
