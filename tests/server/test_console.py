"""The web console's pages and forms (`server/console/`), over HTTP as a browser sends them:
forms urlencoded with the page's CSRF token, the key in the console's cookie. What needs a
real browser (scripts, streaming) is in test_console_browser.py."""

from __future__ import annotations

import re
from typing import Any

from starlette.applications import Starlette
from starlette.testclient import TestClient

from agent_runtime.core.specs import AgentSpec
from agent_runtime.llm.scripted import ScriptedLLM
from agent_runtime.runtime import Runtime
from agent_runtime.storage import keys

CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def token(client: TestClient, path: str = "/") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


def post(client: TestClient, path: str, **fields: Any) -> Any:
    fields.setdefault("csrf", token(client))
    return client.post(path, data=fields, follow_redirects=False)


def test_an_agent_is_created_from_the_form_and_listed(client: TestClient) -> None:
    made = post(client, "/agents", name="Ada", context_window="9000", human="Ada, in Porto")
    assert made.status_code == 303
    page = client.get(made.headers["location"])
    assert "Ada, in Porto" in page.text and "9,000 tokens" in page.text
    listed = client.get("/?q=ad").text
    assert 'href="/agents/' in listed and ">Ada<" in listed
    assert ">Ada<" not in client.get("/?q=zz").text


def test_a_refused_form_says_why_and_keeps_what_was_typed(
    client: TestClient, runtime: Runtime
) -> None:
    refused = post(client, "/agents", name="bad/name", human="a long note I typed")
    assert refused.status_code == 422
    assert "name" in refused.text and "a long note I typed" in refused.text
    window = post(client, "/agents", name="ok", context_window="lots")
    assert window.status_code == 422 and "context_window" in window.text
    assert runtime.list_agents() == []


def test_a_form_without_the_page_s_csrf_token_changes_nothing(
    client: TestClient, runtime: Runtime
) -> None:
    token(client)  # the browser has the CSRF cookie; a page elsewhere does not know its value
    forged = client.post("/agents", data={"name": "planted", "csrf": "x" * 43})
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert client.post("/agents", data={"name": "planted"}).status_code == 403
    assert runtime.list_agents() == []


def test_a_block_over_its_limit_is_a_413_message_and_the_text_is_kept(
    client: TestClient, runtime: Runtime
) -> None:
    agent = runtime.create_agent(AgentSpec(name="ada", human="short"))
    runtime.update_block(agent.id, "human", _patch_limit(40))
    too_long = "x" * 41
    refused = post(client, f"/agents/{agent.id}/blocks/human", value=too_long)
    assert refused.status_code == 413
    assert "40" in refused.text and too_long in refused.text  # the message, and the typed text
    assert runtime.block(agent.id, "human").value == "short"
    saved = post(client, f"/agents/{agent.id}/blocks/human", value="Ada lives in Porto")
    assert saved.status_code == 303
    assert runtime.block(agent.id, "human").value == "Ada lives in Porto"


def test_chat_without_scripts_runs_a_turn(
    client: TestClient, runtime: Runtime, fake_llm: ScriptedLLM
) -> None:
    agent = runtime.create_agent(AgentSpec(name="ada"))
    fake_llm.reply("Hello, Ada.")
    sent = post(client, f"/agents/{agent.id}/chat", content="Hi, I am Ada")
    assert sent.status_code == 303
    page = client.get(f"/agents/{agent.id}").text
    assert "Hi, I am Ada" in page and "Hello, Ada." in page
    assert post(client, f"/agents/{agent.id}/chat", content=" ").status_code == 422


def test_archival_search_with_dates(client: TestClient, runtime: Runtime) -> None:
    agent = runtime.create_agent(AgentSpec(name="ada"))
    runtime.insert_passage(agent.id, "The boat is moored at Ribeira pier")
    found = client.get(f"/agents/{agent.id}?corpus=archival&q=boat+moored&start=&end=").text
    assert "Ribeira pier" in found and "1 found" in found
    later = client.get(f"/agents/{agent.id}?corpus=archival&q=boat&start=2999-01-01").text
    assert "Ribeira pier" not in later and "0 found" in later
    bad = client.get(f"/agents/{agent.id}?corpus=archival&q=boat&start=yesterday")
    assert bad.status_code == 422 and "start" in bad.text


def test_delete_asks_first(client: TestClient, runtime: Runtime) -> None:
    agent = runtime.create_agent(AgentSpec(name="doomed"))
    assert "Delete doomed?" in client.get(f"/agents/{agent.id}/delete").text
    assert runtime.list_agents() != []
    assert post(client, f"/agents/{agent.id}/delete").status_code == 303
    assert runtime.list_agents() == []
    assert client.get(f"/agents/{agent.id}").status_code == 404


def test_a_job_is_started_watched_and_cancelled(client: TestClient, runtime: Runtime) -> None:
    agent = runtime.create_agent(AgentSpec(name="worker"))
    refused = post(client, f"/agents/{agent.id}/jobs", goal="tidy", max_steps="0")
    assert refused.status_code == 422 and "max_steps" in refused.text
    started = post(client, f"/agents/{agent.id}/jobs", goal="Summarise the notes", max_steps="5")
    assert started.status_code == 303
    job_id = started.headers["location"].rsplit("/", 1)[1]
    page = client.get(started.headers["location"]).text
    assert "Summarise the notes" in page and "queued" in page and "Cancel" in page
    assert post(client, f"/jobs/{job_id}/cancel").status_code == 303
    assert runtime.jobs.get(job_id, tenant="default").status == "cancelled"


def test_health_problems_show_on_every_page(client: TestClient, runtime: Runtime) -> None:
    runtime.create_agent(AgentSpec(name="ada"))
    assert "degraded" not in client.get("/").text
    runtime.services.indexer.degraded = lambda: True  # type: ignore[method-assign]
    page = client.get("/").text
    assert "The server is degraded" in page and "keywords only" in page


def test_with_keys_the_console_asks_for_one_and_shows_only_its_tenant(
    app: Starlette, runtime: Runtime
) -> None:
    acme, globex = keys.create(runtime.engine, "acme"), keys.create(runtime.engine, "globex")
    theirs = runtime.create_agent(AgentSpec(name="globex secret"), tenant="globex")
    with TestClient(app, client=("10.1.2.3", 1)) as browser:
        asked = browser.get("/", follow_redirects=False)
        assert asked.status_code == 303 and asked.headers["location"].startswith("/login")
        csrf = token(browser, "/login")
        wrong = browser.post("/login", data={"key": "nope", "csrf": csrf})
        assert wrong.status_code == 401 and "not valid" in wrong.text
        signed = browser.post(
            "/login", data={"key": acme, "csrf": csrf, "next": "/"}, follow_redirects=False
        )
        assert signed.status_code == 303
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert "globex secret" not in browser.get("/").text
        assert browser.get(f"/agents/{theirs.id}").status_code == 404
        made = post(browser, "/agents", name="acme agent")
        assert made.status_code == 303
        assert [a.name for a in runtime.list_agents(tenant="acme")] == ["acme agent"]
        # The REST API takes the cookie too; a change needs the page's token in a header.
        assert browser.get("/v1/agents").json()["data"][0]["name"] == "acme agent"
        body = {"name": "planted"}
        assert browser.post("/v1/agents", json=body).status_code == 403
        csrf = token(browser)
        headed = browser.post(
            "/v1/agents", json={"name": "scripted"}, headers={"X-CSRF-Token": csrf}
        )
        assert headed.status_code == 201
        assert post(browser, "/logout").status_code == 303
        assert browser.get("/", follow_redirects=False).status_code == 303
    assert {a.name for a in runtime.list_agents(tenant="globex")} == {"globex secret"}
    del globex


def test_login_goes_back_only_to_this_server(app: Starlette, runtime: Runtime) -> None:
    key = keys.create(runtime.engine, "acme")
    with TestClient(app, client=("10.1.2.3", 1)) as browser:
        csrf = token(browser, "/login")
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            signed = browser.post(
                "/login", data={"key": key, "csrf": csrf, "next": target}, follow_redirects=False
            )
            assert signed.headers["location"] == "/"


def test_without_keys_a_page_on_another_host_is_refused(client: TestClient) -> None:
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403


def _patch_limit(limit: int) -> Any:
    from agent_runtime.core.specs import BlockPatch

    return BlockPatch(limit=limit)


def test_a_block_s_history_is_shown_and_a_version_restored(
    client: TestClient, runtime: Runtime
) -> None:
    agent = runtime.create_agent(AgentSpec(name="ada", human="Ada lives in Lisbon"))
    assert (
        post(client, f"/agents/{agent.id}/blocks/human", value="Ada lives in Porto").status_code
        == 303
    )
    history = client.get(f"/agents/{agent.id}/blocks/human/history").text
    assert "Ada lives in Lisbon" in history and "Ada lives in Porto" in history
    assert "Restore version 1" in history and "Restore version 2" not in history  # 2 is now
    restored = post(client, f"/agents/{agent.id}/blocks/human/restore", version="1")
    assert restored.status_code == 303
    assert runtime.block(agent.id, "human").value == "Ada lives in Lisbon"
    again = client.get(f"/agents/{agent.id}/blocks/human/history").text
    assert "restored from version 1" in again
    assert post(client, f"/agents/{agent.id}/blocks/human/restore", version="x").status_code == 422
    assert post(client, f"/agents/{agent.id}/blocks/human/restore", version="99").status_code == 404
