"""`recalld chat`'s session against a scripted REST API (httpx's mock transport), and the command
in-process."""

from __future__ import annotations

import io
import json

import httpx
import pytest
from rich.console import Console
from typer.testing import CliRunner

from cli.chat import ChatSession
from cli.client import RecalldClient
from cli.main import app

AGENT = {"id": "agent-1", "name": "helper", "model": "offline"}
CONTEXT = {
    "system": 10,
    "blocks": 5,
    "summary": 3,
    "messages": 2,
    "tools": 4,
    "total": 24,
    "window": 16000,
    "in_context_messages": 1,
    "system_prompt": "You are helper. [bold]not markup[/bold]\n<human>Name: Ada</human>",
    "summary_text": "Ada asked about [/red] boilers.",
}


def sse(*events: tuple[str, dict]) -> str:
    return "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n" for kind, data in events)


class Api:
    """The server's side: canned answers, and every message sent to the agent."""

    def __init__(self) -> None:
        self.context = dict(CONTEXT)
        self.sent: list[str] = []
        self.fail_turns = False
        self.asked_for_tokens: list[bool] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/context"):
            return httpx.Response(200, json=self.context)
        if path.endswith("/blocks"):
            block = {"label": "human", "value": "[/red] stray", "size": 12, "limit": 100}
            return httpx.Response(200, json={"data": [{**block, "read_only": False}]})
        if path.endswith("/messages/stream"):
            body = json.loads(request.content)
            text = body["messages"][0]["content"]
            self.sent.append(text)
            self.asked_for_tokens.append(body.get("tokens", False))
            if self.fail_turns:
                body = sse(("error", {"error": {"code": "provider_error", "message": "boom"}}))
            elif body.get("tokens"):
                body = sse(
                    ("assistant_delta", {"step": 0, "text": "ec"}),
                    ("delta_reset", {"step": 0}),
                    ("assistant_delta", {"step": 0, "text": "echo "}),
                    ("assistant_delta", {"step": 0, "text": text}),
                    ("assistant_message", {"content": f"echo {text}"}),
                    ("done", {"stop_reason": "end_turn"}),
                )
            else:
                body = sse(
                    ("assistant_message", {"content": f"echo {text}"}),
                    ("done", {"stop_reason": "end_turn"}),
                )
            return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})
        return httpx.Response(404, json={"error": {"code": "not_found", "message": path}})


@pytest.fixture
def api() -> Api:
    return Api()


def session(api: Api, interactive: bool) -> tuple[ChatSession, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    client = RecalldClient("http://recalld.test", transport=httpx.MockTransport(api))
    chat = ChatSession(
        client,
        AGENT,
        Console(file=out, width=60, soft_wrap=True),
        interactive,
        errors=Console(file=err, width=60, soft_wrap=True),
    )
    return chat, out, err


def test_prompt_and_summary_show_the_rendered_text_as_it_is(api: Api) -> None:
    chat, out, _ = session(api, interactive=False)
    chat.run(["/prompt", "/summary"])
    assert out.getvalue() == CONTEXT["system_prompt"] + "\n" + CONTEXT["summary_text"] + "\n"


def test_summary_says_when_there_is_none_yet(api: Api) -> None:
    api.context["summary_text"] = ""
    chat, out, _ = session(api, interactive=False)
    chat.run(["/summary"])
    assert "no summary yet" in out.getvalue()


def test_help_lists_every_command(api: Api) -> None:
    chat, out, _ = session(api, interactive=False)
    chat.run(["/help"])
    for command in ("/memory", "/context", "/prompt", "/summary", "/search", "/exit"):
        assert command in out.getvalue()


def test_stored_text_that_looks_like_markup_is_printed_as_is(api: Api) -> None:
    chat, out, _ = session(api, interactive=False)
    chat.run(["/memory"])
    assert "[/red] stray" in out.getvalue()


def test_a_piped_session_stops_at_the_first_failed_turn(api: Api) -> None:
    api.fail_turns = True
    chat, out, err = session(api, interactive=False)
    chat.run(["first", "second"])
    assert chat.failed and api.sent == ["first"]
    assert err.getvalue() == "error: boom\n" and out.getvalue() == ""


def test_an_interactive_session_shows_the_error_and_goes_on(api: Api) -> None:
    api.fail_turns = True
    chat, _, err = session(api, interactive=True)
    chat.run(["first", "second"])
    assert api.sent == ["first", "second"]
    assert err.getvalue().count("error: boom") == 2


def test_a_failed_command_ends_a_piped_session_too(api: Api) -> None:
    chat, _, err = session(api, interactive=False)
    chat.run(["/search boilers", "hello"])
    assert chat.failed and api.sent == [] and "error:" in err.getvalue()


def test_a_piped_session_that_worked_has_not_failed(api: Api) -> None:
    chat, out, _ = session(api, interactive=False)
    chat.run(["hello", "/exit", "never sent"])
    assert not chat.failed and api.sent == ["hello"]
    assert out.getvalue() == "helper: echo hello\n"


def test_an_interactive_session_shows_the_reply_as_its_tokens_come(api: Api) -> None:
    chat, out, _ = session(api, interactive=True)
    chat.run(["**hello**", "again"])
    assert api.asked_for_tokens == [True, True]
    # The voided piece stays visible but is marked; each reply is printed once, as it came.
    assert out.getvalue().splitlines() == [
        "helper",
        "ec",
        "(the model is answering again)",
        "helper",
        "echo **hello**",
        "helper",
        "ec",
        "(the model is answering again)",
        "helper",
        "echo again",
    ]


def test_a_piped_session_prints_whole_replies(api: Api) -> None:
    chat, out, _ = session(api, interactive=False)
    chat.run(["hello"])
    assert api.asked_for_tokens == [False]
    assert out.getvalue() == "helper: echo hello\n"


def test_piped_chat_that_cannot_pick_an_agent_exits_with_one_line(
    runner: CliRunner, nowhere: str
) -> None:
    tried = runner.invoke(app, ["--url", nowhere, "chat", "helper"], input="hello\n")
    assert tried.exit_code == 1 and tried.stdout == ""
    [line] = tried.stderr.splitlines()
    assert line.startswith(f"error: cannot reach the recalld server at {nowhere}")
