"""What recalld adds to a streamed reply and to a tool call, on loopback. Not part of the tests.

    .venv/bin/python bench/tools.py [--turns 30] [--calls 30]

Time to first token: an OpenAI-compatible stub that streams at once. The provider's own TTFT
is a streaming POST straight to it; litellm's the same call through `litellm.completion`;
recalld's `POST /messages/stream` with `"tokens": true` through a real `recalld` app (uvicorn,
litellm, SQLite) to the first `assistant_delta`. The difference is what recalld adds:
recording the input, building the prompt, litellm.

Tool calls, against a loopback HTTP tool server and a loopback MCP server (the official SDK):
a bare HTTP round trip; recalld's HTTP tool call (schema check, allow-list, secrets, capped
body); an MCP tool call (a connection per call); and what one more step calling the HTTP tool
adds to a turn (the slope over turns of 1 and 5 such steps, with an instant scripted model).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "support"))

from live_server import free_port  # noqa: E402
from mcp_tool_server import McpToolServer  # noqa: E402
from openai_stub import OpenAIStub  # noqa: E402
from tool_server import ToolServer  # noqa: E402

from agent_runtime.core.settings import Settings  # noqa: E402
from agent_runtime.core.specs import AgentSpec  # noqa: E402
from agent_runtime.embedding.fake import FakeEmbedder  # noqa: E402
from agent_runtime.llm.scripted import ScriptedLLM  # noqa: E402
from agent_runtime.retrieval.vector_index import MemoryIndex  # noqa: E402
from agent_runtime.runtime import Runtime  # noqa: E402
from agent_runtime.tools.http_tool import HttpTool  # noqa: E402

CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def ms(samples: list[float]) -> float:
    return round(statistics.median(samples) * 1000, 2)


def first_delta_direct(client: httpx.Client, url: str) -> float:
    body = {"model": "bench", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    start = time.perf_counter()
    first = None
    with client.stream("POST", f"{url}/chat/completions", json=body) as response:
        for line in response.iter_lines():  # to the end, as a client would
            if first is None and line.startswith("data: ") and '"content"' in line:
                first = time.perf_counter() - start
    if first is None:
        raise RuntimeError("the stub sent no content")
    return first


def first_delta_litellm(url: str) -> float:
    import litellm

    start = time.perf_counter()
    first = None
    chunks = litellm.completion(
        model="openai/bench",
        api_base=url,
        api_key="none",
        messages=[{"role": "user", "content": "hi"}],
        stream=True,
    )
    for chunk in chunks:
        if first is None and chunk.choices and chunk.choices[0].delta.content:
            first = time.perf_counter() - start
    if first is None:
        raise RuntimeError("litellm streamed no content")
    return first


def first_delta_recalld(client: httpx.Client, agent_id: str, n: int) -> float:
    body = {"messages": [{"content": f"question {n}"}], "tokens": True}
    start = time.perf_counter()
    first = None
    with client.stream("POST", f"/v1/agents/{agent_id}/messages/stream", json=body) as response:
        for line in response.iter_lines():
            if first is None and line == "event: assistant_delta":
                first = time.perf_counter() - start
    if first is None:
        raise RuntimeError("recalld streamed no assistant_delta")
    return first


def ttft(turns: int) -> dict[str, Any]:
    import uvicorn

    from server.app import create_app

    with OpenAIStub() as stub, tempfile.TemporaryDirectory() as home:
        settings = Settings(home=Path(home), default_embedding="fake")
        port = free_port()
        config = uvicorn.Config(
            create_app(settings, workers=0, extraction=0),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        try:
            with (
                httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client,
                httpx.Client(timeout=60) as plain,
            ):
                agent = client.post(
                    "/v1/agents",
                    json={
                        "name": "bench",
                        "model": "openai/bench",
                        "model_base_url": stub.url,
                        "memory": "tools",
                    },
                ).json()
                for n in range(3):  # warm: litellm's first call imports and builds a lot
                    first_delta_direct(plain, stub.url)
                    first_delta_recalld(client, agent["id"], n)
                direct = [first_delta_direct(plain, stub.url) for _ in range(turns)]
                first_delta_litellm(stub.url)
                via_litellm = [first_delta_litellm(stub.url) for _ in range(turns)]
                through = [first_delta_recalld(client, agent["id"], n) for n in range(turns)]
        finally:
            server.should_exit = True
            thread.join(timeout=10)
    return {
        "turns": turns,
        "provider_ttft_ms": ms(direct),
        "litellm_ttft_ms": ms(via_litellm),  # the same call made with litellm alone
        "recalld_ttft_ms": ms(through),
        "added_ms": round(ms(through) - ms(direct), 2),
    }


def runtime_with(settings: Settings, llm: ScriptedLLM) -> Runtime:
    return Runtime(
        settings, llm=llm, embedder_factory=lambda _n: FakeEmbedder(), index=MemoryIndex()
    )


def tool_calls(calls: int) -> dict[str, Any]:
    answer = json.dumps({"forecast": "sunny"})
    with (
        ToolServer(lambda _p, _b: (200, answer)) as http_server,
        McpToolServer() as mcp_server,
        tempfile.TemporaryDirectory() as home,
    ):
        settings = Settings(
            home=Path(home),
            allowed_tool_urls=(http_server.url + "/", mcp_server.url.rsplit("/", 1)[0] + "/"),
            default_context_window=200_000,
        )
        llm = ScriptedLLM()
        runtime = runtime_with(settings, llm)
        try:
            url = http_server.url + "/weather"
            with httpx.Client() as raw:
                raw.post(url, json={"city": "Oslo"})
                bare = []
                for _ in range(calls):
                    start = time.perf_counter()
                    raw.post(url, json={"city": "Oslo"}).raise_for_status()
                    bare.append(time.perf_counter() - start)
            caller = runtime.custom_tools.caller
            tool = HttpTool("weather", "", CITY, url)
            http_call = []
            for _ in range(calls + 1):
                start = time.perf_counter()
                caller.call(tool, {"city": "Oslo"})
                http_call.append(time.perf_counter() - start)
            mcp = runtime.custom_tools.mcp
            registered = mcp.create({"name": "loop", "url": mcp_server.url}, tenant="default")
            forecast = next(t for t in registered.tools if t.name == "loop__forecast")
            mcp_call = []
            for _ in range(min(calls, 20) + 1):
                start = time.perf_counter()
                mcp.call(registered.server, forecast, {"city": "Oslo"})
                mcp_call.append(time.perf_counter() - start)

            runtime.custom_tools.create(
                {"name": "weather", "parameters": CITY, "url": url}, tenant="default"
            )
            agent = runtime.create_agent(AgentSpec(name="t", memory="tools")).id
            runtime.custom_tools.attach(agent, "weather", tenant="default")

            def turn(steps: int) -> float:
                for _ in range(steps):
                    llm.reply(weather={"city": "Oslo"})
                llm.reply("done")
                start = time.perf_counter()
                runtime.send(agent, ["weather?"])
                return time.perf_counter() - start

            turn(1)
            one = [turn(1) for _ in range(calls)]
            five = [turn(5) for _ in range(calls)]
        finally:
            runtime.close()
    step = (statistics.median(five) - statistics.median(one)) / 4
    return {
        "calls": calls,
        "bare_http_ms": ms(bare),
        "recalld_http_tool_call_ms": ms(http_call[1:]),
        "added_by_the_call_ms": round(ms(http_call[1:]) - ms(bare), 2),
        "mcp_tool_call_ms": ms(mcp_call[1:]),
        "turn_1_tool_step_ms": ms(one),
        "turn_5_tool_steps_ms": ms(five),
        "per_tool_step_ms": round(step * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    report = {
        "machine": f"{platform.machine()}, Python {platform.python_version()}",
        "ttft": ttft(args.turns),
        "tool_calls": tool_calls(args.calls),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
