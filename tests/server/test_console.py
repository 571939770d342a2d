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
REFUSED = re.compile(r'<p class="refused" role="alert">(.*?)</p>', re.S)


def refusals(html: str) -> list[str]:
    """The refusal messages a page shows, in order."""
    return REFUSED.findall(html)


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
    [message] = refusals(refused.text)
    assert "name" in message and "a long note I typed" in refused.text
    for window in ("lots", "²", "9" * 5000):  # not a number, a digit but no decimal, too long
        odd = post(client, "/agents", name="ok", context_window=window)
        assert odd.status_code == 422, window
        assert "context_window" in refusals(odd.text)[0]
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
    [message] = refusals(refused.text)
    assert "40" in message and too_long in refused.text  # the message, and the typed text
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
    # Nothing queued: the scripted model fails as a provider would (not transient: no retry).
    failed = post(client, f"/agents/{agent.id}/chat", content="Are you there?")
    assert failed.status_code == 502 and "no reply queued" in refusals(failed.text)[0]
    assert "Are you there?</textarea>" in failed.text  # what was typed is still there


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
    assert refused.status_code == 422
    [message] = refusals(refused.text)
    assert "max_steps" in message
    jobs_section = refused.text.split('id="jobs"', 1)[1]
    assert message in jobs_section and "tidy</textarea>" in jobs_section  # shown by its form
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
    agent = runtime.list_agents()[0]
    for path in ("/", f"/agents/{agent.id}", f"/agents/{agent.id}/delete"):
        page = client.get(path).text
        assert "The server is degraded" in page and "keywords only" in page, path


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
        their_job = runtime.jobs.submit(theirs.id, "their goal", tenant="globex")
        assert browser.get(f"/agents/{theirs.id}").status_code == 404
        assert browser.get(f"/jobs/{their_job.id}").status_code == 404
        assert browser.get(f"/agents/{theirs.id}/blocks/human/history").status_code == 404
        for path, fields in [
            (f"/agents/{theirs.id}/blocks/human", {"value": "overwritten"}),
            (f"/agents/{theirs.id}/chat", {"content": "hello"}),
            (f"/agents/{theirs.id}/jobs", {"goal": "planted"}),
            (f"/agents/{theirs.id}/delete", {}),
            (f"/jobs/{their_job.id}/cancel", {}),
        ]:
            assert post(browser, path, **fields).status_code == 404, path
        assert runtime.block(theirs.id, "human", tenant="globex").value == ""
        assert runtime.jobs.get(their_job.id, tenant="globex").status == "queued"
        assert runtime.messages(theirs.id, tenant="globex") == []
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
    with TestClient(app, client=("10.1.2.3", 1)) as other:
        csrf = token(other, "/login")
        other.post("/login", data={"key": globex, "csrf": csrf})
        assert "globex secret" in other.get("/").text and "acme agent" not in other.get("/").text


def test_login_goes_back_only_to_this_server(app: Starlette, runtime: Runtime) -> None:
    key = keys.create(runtime.engine, "acme")
    with TestClient(app, client=("10.1.2.3", 1)) as browser:
        csrf = token(browser, "/login")
        for target in (
            "//evil.example/",
            "https://evil.example/",
            "/\\evil.example",
            "/\t/evil.example",  # a browser drops the tab: //evil.example
            "/ /evil.example",
        ):
            signed = browser.post(
                "/login", data={"key": key, "csrf": csrf, "next": target}, follow_redirects=False
            )
            assert signed.headers["location"] == "/"


def test_without_keys_a_page_on_another_host_is_refused(client: TestClient) -> None:
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 403
    assert client.get("/", headers={"Host": "127.0.0.1.evil.example"}).status_code == 403
    csrf = token(client)
    # Another port of this machine (its own page, planting the CSRF cookie) is not this server.
    other_port = {"Origin": "http://127.0.0.1:3000"}
    sent = client.post("/agents", data={"name": "x", "csrf": csrf}, headers=other_port)
    assert sent.status_code == 403


def test_without_keys_a_remote_browser_is_told_why_not_sent_round(app: Starlette) -> None:
    with TestClient(app, client=("10.1.2.3", 1)) as remote:
        page = remote.get("/", follow_redirects=False)
        assert page.status_code == 401 and "loopback" in refusals(page.text)[0]


def test_agents_are_found_by_part_of_their_name(client: TestClient, runtime: Runtime) -> None:
    for name in ("Ada Lovelace", "ada_2", "Grace"):
        runtime.create_agent(AgentSpec(name=name))
    listed = re.compile(r'href="/agents/[^"]+">([^<]+)</a>')
    assert listed.findall(client.get("/?q=ADA").text) == ["Ada Lovelace", "ada_2"]
    assert listed.findall(client.get("/?q=_").text) == ["ada_2"]  # _ and % are no wildcards
    assert listed.findall(client.get("/?q=%25").text) == []


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
