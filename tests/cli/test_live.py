"""The CLI against a real `recalld serve` process, on the embedded default storage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from live_server import LiveServer
from openai_stub import OpenAIStub


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recalld-home")


@pytest.fixture(scope="module")
def server(home: Path) -> Iterator[LiveServer]:
    live = LiveServer(home).start()
    yield live
    live.stop()


def test_piped_chat_with_the_offline_model(server: LiveServer) -> None:
    result = server.cli(
        "chat",
        stdin="My name is Ada and I live in Lisbon\n/memory\n"
        "What is my name?\n/context\n/search Lisbon\n/prompt\n/summary\n/exit\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "core_memory_append" in out  # the memory edit is shown compactly
    assert "chat: Got it, I'll remember that." in out
    assert "human (" in out and "My name is Ada" in out  # /memory
    assert "chat: From my core memory: My name is Ada" in out
    assert "window" in out and "total" in out  # /context
    assert "conversation" in out  # /search
    assert '<human chars="' in out and "## Core memory" in out  # /prompt
    assert "no summary yet" in out  # /summary
    assert "created agent 'chat'" in result.stderr


def test_piped_chat_exits_non_zero_when_a_turn_fails(server: LiveServer) -> None:
    refusal = {"error": {"message": "model not found", "type": "invalid_request_error"}}
    with OpenAIStub() as stub:
        stub.replies.append((400, refusal))
        made = server.cli(
            "agents", "create", "broken", "--model", "openai/stub-model", "--base-url", stub.url
        )
        assert made.returncode == 0, made.stderr
        result = server.cli("chat", "broken", stdin="hello\nis anyone there?\n")
    assert result.returncode == 1
    assert "error:" in result.stderr and "model not found" in result.stderr
    assert len(stub.requests) == 1  # the session stopped at the failed turn


def test_a_fallback_model_answers_when_the_agents_own_fails(server: LiveServer) -> None:
    refusal = {"error": {"message": "model not found", "type": "invalid_request_error"}}
    with OpenAIStub() as stub:
        stub.replies.append((400, refusal))
        made = server.cli(
            "agents", "create", "steady", "--model", "openai/stub-model", "--base-url", stub.url,
            "--fallback", "offline",
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        result = server.cli("chat", "steady", stdin="My name is Ada\n")
        assert stub.requests[0]["body"]["tools"]  # the turn went to the agent's model first
    assert result.returncode == 0, result.stderr
    assert "steady: Got it, I'll remember that." in result.stdout
    assert "fallbacks        offline" in server.cli("agents", "show", "steady").stdout


def test_delete_asks_for_yes_when_piped(server: LiveServer) -> None:
    server.cli("agents", "create", "doomed")
    refused = server.cli("agents", "delete", "doomed", stdin="n\n")
    assert refused.returncode != 0 and "--yes" in refused.stderr
    assert "doomed" in [
        a["name"] for a in json.loads(server.cli("agents", "list", "--json").stdout)
    ]
    deleted = server.cli("agents", "delete", "doomed", "--yes")
    assert deleted.returncode == 0 and deleted.stdout.startswith("deleted agent-")
    assert "doomed" not in server.cli("agents", "list").stdout


def test_piped_output_is_not_wrapped(server: LiveServer) -> None:
    text = "A passage long enough to pass the eighty columns a terminal would wrap it at, " * 2
    server.cli("agents", "create", "wide")
    server.cli("archival", "insert", "wide", text.strip())
    found = server.cli("archival", "search", "wide", "passage long enough")
    assert found.returncode == 0, found.stderr
    assert text.strip() in found.stdout.splitlines()[0]


def test_agent_memory_and_archival_commands(server: LiveServer) -> None:
    made = json.loads(
        server.cli("agents", "create", "notes", "--human", "Likes tea", "--json").stdout
    )
    assert made["name"] == "notes" and made["model"] == "offline"
    listed = json.loads(server.cli("agents", "list", "--json").stdout)
    assert "notes" in [a["name"] for a in listed]
    edited = json.loads(
        server.cli(
            "memory", "edit", "notes", "human", "--append", "Lives in Porto", "--json"
        ).stdout
    )
    assert edited["value"] == "Likes tea\nLives in Porto"
    shown = json.loads(server.cli("memory", "show", "notes", "--json").stdout)
    assert {b["label"]: b["value"] for b in shown}["human"] == "Likes tea\nLives in Porto"
    server.cli("archival", "insert", "notes", "Boat moored at pier 7", "--tag", "boat")
    hits = json.loads(server.cli("archival", "search", "notes", "pier", "--json").stdout)
    assert hits[0]["text"] == "Boat moored at pier 7" and hits[0]["tags"] == ["boat"]
    details = json.loads(server.cli("agents", "show", "notes", "--json").stdout)
    assert details["context"]["window"] == details["context_window"]


def test_errors_are_one_friendly_line(server: LiveServer) -> None:
    missing = server.cli("agents", "show", "nobody")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: no agent named 'nobody'"
    over = server.cli("memory", "edit", "chat", "human", "--limit", "3")
    assert over.returncode == 1 and "limit" in over.stderr and "Traceback" not in over.stderr
    debug = server.cli("--debug", "agents", "show", "nobody")
    assert "Traceback" in debug.stderr
    down = LiveServer(Path("/nonexistent")).cli("agents", "list")
    assert down.returncode == 1 and "cannot reach the recalld server" in down.stderr


def test_a_restart_loses_nothing(server: LiveServer, home: Path) -> None:
    before = json.loads(server.cli("agents", "show", "chat", "--json").stdout)
    server.stop()
    server.start()
    after = json.loads(server.cli("agents", "show", "chat", "--json").stdout)
    assert after["message_count"] == before["message_count"] > 0
    hits = server.cli("archival", "search", "notes", "pier", "--json")
    assert json.loads(hits.stdout)[0]["text"] == "Boat moored at pier 7"
    history = server.cli("chat", "chat", stdin="What is my name?\n")
    assert "My name is Ada" in history.stdout


def test_keys_and_refusing_to_bind_publicly_without_one(tmp_path: Path) -> None:
    live = LiveServer(tmp_path)
    refused = live.cli("serve", "--host", "0.0.0.0", "--port", str(live.port))
    assert refused.returncode == 1
    assert "refusing to listen on 0.0.0.0 with no API key" in refused.stderr
    made = live.cli("keys", "create", "--local", "--tenant", "acme", "--json")
    key = json.loads(made.stdout)["key"]
    assert key.startswith("rk_")
    live.start()
    try:
        assert live.cli("agents", "list").returncode == 1  # a key is now required
        ok = live.cli("--key", key, "agents", "list", "--json")
        assert ok.returncode == 0 and json.loads(ok.stdout) == []
    finally:
        live.stop()


def test_jobs_from_the_cli_with_the_server_s_own_worker(server: LiveServer) -> None:
    made = json.loads(
        server.cli(
            "jobs", "submit", "chat", "Tidy up my notes", "--max-steps", "10", "--json"
        ).stdout
    )
    watched = server.cli("jobs", "watch", made["id"], timeout=60)
    assert watched.returncode == 0, watched.stdout + watched.stderr
    assert "progress: goal filed in archival memory" in watched.stdout
    assert "succeeded (completed)" in watched.stdout and "result: offline model" in watched.stdout
    listed = json.loads(server.cli("jobs", "list", "--agent", "chat", "--json").stdout)
    assert [j["status"] for j in listed] == ["succeeded"]
    hits = json.loads(server.cli("archival", "search", "chat", "Tidy notes", "--json").stdout)
    assert any("Job goal: Tidy up my notes" in h["text"] for h in hits)


def queued(server: LiveServer, agent: str) -> list[dict]:
    listed = server.cli("jobs", "list", "--agent", agent, "--status", "queued", "--json")
    return json.loads(listed.stdout)


def test_the_id_jobs_submit_prints_cancels_its_schedule(server: LiveServer) -> None:
    server.cli("agents", "create", "digest")
    submitted = server.cli("jobs", "submit", "digest", "Write the digest", "--every", "1d")
    assert submitted.returncode == 0, submitted.stderr
    first = re.match(r"submitted (job-\w+) ", submitted.stdout)
    assert first, submitted.stdout
    assert f"'recalld jobs cancel {first[1]}' stops it" in submitted.stdout
    watched = server.cli("jobs", "watch", first[1], timeout=60)  # an interval runs at once
    assert "succeeded (completed)" in watched.stdout and "next run: job-" in watched.stdout
    assert len(queued(server, "digest")) == 1  # tomorrow's run

    cancelled = server.cli("jobs", "cancel", first[1])
    assert cancelled.returncode == 0
    assert cancelled.stdout.strip() == f"{first[1]}: succeeded; schedule 1d stopped, no more runs"
    assert queued(server, "digest") == []


def test_a_cron_schedule_first_runs_at_its_next_match_in_utc(server: LiveServer) -> None:
    server.cli("agents", "create", "nightly")
    now = datetime.now(UTC)
    submitted = server.cli("jobs", "submit", "nightly", "Tidy up", "--every", "0 7 * * *")
    expected = now.replace(hour=7, minute=0, second=0, microsecond=0)
    if expected <= now:
        expected += timedelta(days=1)
    assert f"first run {expected:%Y-%m-%d %H:%M:%S} UTC" in submitted.stdout
    [job] = queued(server, "nightly")
    cancelled = server.cli("jobs", "cancel", job["id"])
    assert cancelled.stdout.startswith(f"{job['id']}: cancelled; schedule 0 7 * * * stopped")


def test_doctor_checks_the_index_against_the_database(server: LiveServer) -> None:
    server.cli("agents", "create", "doc")
    server.cli("archival", "insert", "doc", "a passage to check")
    result = server.cli("doctor")
    assert result.returncode == 0, result.stderr
    assert "the vector index matches the database" in result.stdout
    one = server.cli("doctor", "doc", "--json")
    findings = json.loads(one.stdout)
    assert {f["kind"] for f in findings} == {"passage", "message"}
    assert all(f["healthy"] for f in findings)
