"""`recalld memories` in-process against a real `recalld serve` process (fact memory over REST).
Each test writes under its own user, so the tests share one server but not their facts."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator

import pytest
from click.testing import Result
from live_server import LiveServer
from typer.testing import CliRunner

from cli.main import app

Recalld = Callable[..., Result]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path_factory.mktemp("recalld-home")).start()
    yield live
    live.stop()


@pytest.fixture
def recalld(server: LiveServer, runner: CliRunner) -> Recalld:
    """Run `recalld --url <server> memories ...` in-process."""

    def run(*args: str, stdin: str | None = None) -> Result:
        return runner.invoke(app, ["--url", server.url, "memories", *args], input=stdin)

    return run


def fact_id(line: str) -> int:
    """The id in a line such as 'added #3 Ada lives in Lisbon'."""
    found = re.search(r"#(\d+)", line)
    assert found, line
    return int(found.group(1))


def slot(recalld: Recalld, user: str, attribute: str, value: str, *more: str) -> Result:
    """`recalld memories add --subject Ada --attribute <attribute> --value <value> ...`"""
    return recalld(
        "add", "--subject", "Ada", "--attribute", attribute, "--value", value, "--user", user, *more
    )


def move(recalld: Recalld, user: str) -> tuple[int, int]:
    """Ada lives in Porto from 2020, then in Lisbon from 2023-05-01: the ids of both facts."""
    porto = slot(recalld, user, "lives_in", "Porto", "--valid-at", "2020-01-01")
    lisbon = slot(recalld, user, "lives_in", "Lisbon", "--valid-at", "2023-05-01")
    assert porto.exit_code == 0 and lisbon.exit_code == 0, porto.output + lisbon.output
    return fact_id(porto.stdout), fact_id(lisbon.stdout)


def test_add_a_slot_with_evidence_and_typed_metadata(recalld: Recalld) -> None:
    evidence = ["--evidence", "said so on Monday", "--evidence", "her badge"]
    meta = ["--meta", "source=chat", "--meta", "weight=3", "--meta", "checked=true"]
    added = slot(recalld, "slot", "works_at", "Acme", *evidence, *meta, "--meta", "ratio=0.5")
    assert added.exit_code == 0, added.output
    assert re.fullmatch(r"added #\d+ Ada works at Acme\n", added.stdout)
    shown = json.loads(recalld("show", str(fact_id(added.stdout)), "--json").stdout)
    assert (shown["subject"], shown["attribute"], shown["value"]) == ("Ada", "works_at", "Acme")
    assert shown["cardinality"] == "single" and shown["user_id"] == "slot"
    assert shown["evidence"] == ["said so on Monday", "her badge"]
    assert shown["metadata"] == {"source": "chat", "weight": 3, "checked": True, "ratio": 0.5}


def test_add_a_free_statement(recalld: Recalld) -> None:
    added = recalld("add", "Ada likes green tea", "--kind", "preference", "--user", "free")
    assert added.exit_code == 0, added.output
    assert re.fullmatch(r"added #\d+ Ada likes green tea\n", added.stdout)
    shown = recalld("show", f"#{fact_id(added.stdout)}")
    assert shown.exit_code == 0, shown.output
    assert "Ada likes green tea  [current, since " in shown.stdout
    assert "kind: preference" in shown.stdout and "scope: user free" in shown.stdout


def test_a_move_supersedes_the_old_value(recalld: Recalld) -> None:
    slot(recalld, "mover", "lives_in", "Porto", "--valid-at", "2020-01-01")
    moved = slot(recalld, "mover", "lives_in", "Lisbon", "--valid-at", "2023-05-01")
    assert moved.exit_code == 0, moved.output
    added, superseded = moved.stdout.splitlines()
    new = fact_id(added)
    assert added == f"added #{new} Ada lives in Lisbon"
    assert re.fullmatch(rf"superseded #\d+ Ada lives in Porto \(by #{new}\)", superseded)


def test_a_late_value_is_filed_as_past(recalld: Recalld) -> None:
    move(recalld, "late")
    late = slot(recalld, "late", "lives_in", "Braga", "--valid-at", "2021-01-01")
    assert late.exit_code == 0, late.output
    assert "Ada lives in Braga  [superseded, 2021-01-01 → 2023-05-01]" in late.stdout
    assert "superseded" in late.stdout.splitlines()[1] and "Porto" in late.stdout


def test_the_same_value_merges_and_a_negation_retires(recalld: Recalld) -> None:
    first = slot(recalld, "taste", "likes", "sushi")
    again = slot(recalld, "taste", "likes", "Sushi", "--evidence", "again")
    assert again.stdout == f"merged into #{fact_id(first.stdout)} Ada likes sushi\n"
    assert (
        json.loads(recalld("show", str(fact_id(first.stdout)), "--json").stdout)["evidence_count"]
        == 2
    )
    negated = slot(recalld, "taste", "likes", "sushi", "--negates")
    assert negated.stdout == f"negated #{fact_id(first.stdout)} Ada likes sushi\n"
    nothing = slot(recalld, "taste", "likes", "sushi", "--negates")
    assert nothing.exit_code == 0
    assert nothing.stdout == "unchanged: nothing held then to negate; kept for later\n"


def test_search_finds_what_is_true_now_then_or_ever(recalld: Recalld) -> None:
    porto, lisbon = move(recalld, "searcher")
    ask = ("search", "where does Ada live", "--user", "searcher")
    now = recalld(*ask)
    assert now.exit_code == 0, now.output
    assert now.stdout == f"#{lisbon}  Ada lives in Lisbon  [current, since 2023-05-01]\n"
    ever = recalld(*ask, "--history").stdout.splitlines()
    assert sorted(ever) == sorted(
        [
            f"#{lisbon}  Ada lives in Lisbon  [current, since 2023-05-01]",
            f"#{porto}  Ada lives in Porto  [superseded, 2020-01-01 → 2023-05-01]",
        ]
    )
    then = recalld(*ask, "--as-of", "2021-06-01")
    assert then.stdout == f"#{porto}  Ada lives in Porto  [superseded, 2020-01-01 → 2023-05-01]\n"
    before = recalld(*ask, "--as-of", "2019-01-01")
    assert before.stdout == "nothing found\n"


def test_search_filters(recalld: Recalld) -> None:
    recalld("add", "Ada plays chess", "--meta", "weight=3", "--user", "filters")
    recalld("add", "Ada plays the cello", "--kind", "preference", "--user", "filters")
    ask = ("search", "what does Ada play", "--user", "filters")
    assert recalld(*ask, "--filter", "metadata.weight=3").stdout.count("\n") == 1
    assert "chess" in recalld(*ask, "--filter", "metadata.weight=3").stdout
    assert recalld(*ask, "--filter", "metadata.weight=4").stdout == "nothing found\n"
    assert "cello" in recalld(*ask, "--kind", "preference").stdout
    assert "chess" not in recalld(*ask, "--kind", "preference").stdout


def test_list_pages_in_id_order(recalld: Recalld) -> None:
    # Statements far apart: near rewordings of one another would merge into one fact.
    said = ["Ada owns a bicycle", "Ada speaks Portuguese", "Ada collects stamps"]
    ids = [fact_id(recalld("add", text, "--user", "pager").stdout) for text in said]
    assert len(set(ids)) == 3
    first = recalld("list", "--user", "pager", "--limit", "2")
    assert first.exit_code == 0, first.output
    assert [fact_id(line) for line in first.stdout.splitlines()] == ids[:2]
    assert first.stderr == f"more: --after {ids[1]}\n"
    rest = recalld("list", "--user", "pager", "--limit", "2", "--after", str(ids[1]))
    assert [fact_id(line) for line in rest.stdout.splitlines()] == ids[2:]
    assert rest.stderr == ""
    page = json.loads(recalld("list", "--user", "pager", "--limit", "2", "--json").stdout)
    assert [f["id"] for f in page["data"]] == ids[:2] and page["next"] == ids[1]


def test_history_prints_events_in_order(recalld: Recalld) -> None:
    porto, lisbon = move(recalld, "historian")
    shown = recalld("history", str(porto))
    assert shown.exit_code == 0, shown.output
    events = [line.split(None, 2)[2] for line in shown.stdout.splitlines()]
    assert events == ["added      Porto", f"superseded Porto → Lisbon (by #{lisbon})"]
    detail = recalld("show", str(porto)).stdout
    assert f"superseded by: #{lisbon}" in detail
    assert "[superseded, 2020-01-01 → 2023-05-01]" in detail


def test_delete_retires_and_keeps_the_history(recalld: Recalld) -> None:
    made = fact_id(recalld("add", "Ada has a cat", "--user", "deleter").stdout)
    deleted = recalld("delete", str(made))
    assert deleted.exit_code == 0, deleted.output
    assert deleted.stdout == f"deleted #{made} (its history is kept)\n"
    assert json.loads(recalld("show", str(made), "--json").stdout)["status"] == "deleted"
    assert recalld("search", "cat", "--user", "deleter").stdout == "nothing found\n"
    history = recalld("history", str(made)).stdout.splitlines()
    assert "deleted    Ada has a cat" in history[-1]


def test_purge_asks_first_and_says_what_it_erased(recalld: Recalld) -> None:
    made = fact_id(recalld("add", "Ada's PIN is 1234", "--user", "purger").stdout)
    refused = recalld("delete", str(made), "--purge", stdin="y\n")
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: not purging #{made}: with no terminal to confirm on, add --yes\n"
    )
    assert json.loads(recalld("show", str(made), "--json").stdout)["text"] == "Ada's PIN is 1234"
    purged = recalld("delete", str(made), "--purge", "--yes")
    assert purged.exit_code == 0, purged.output
    assert purged.stdout == (
        f"purged #{made}: erased its text, its vectors and the values of 1 history event\n"
    )
    left = json.loads(recalld("show", str(made), "--json").stdout)
    assert left["text"] == "" and left["status"] == "deleted"
    assert "1234" not in recalld("history", str(made)).stdout


def test_every_command_speaks_json(recalld: Recalld) -> None:
    porto, lisbon = move(recalld, "json")
    written = json.loads(recalld("add", "Ada sings", "--user", "json", "--json").stdout)
    assert [f["text"] for f in written["added"]] == ["Ada sings"]
    assert written["merged"] == written["superseded"] == written["negated"] == []
    hits = json.loads(recalld("search", "Ada", "--user", "json", "--history", "--json").stdout)
    assert {h["id"] for h in hits} >= {porto, lisbon} and "score" in hits[0]
    page = json.loads(recalld("list", "--user", "json", "--json").stdout)
    assert [f["id"] for f in page["data"]] == [lisbon, written["added"][0]["id"]]
    events = json.loads(recalld("history", str(porto), "--json").stdout)
    assert [e["event"] for e in events] == ["added", "superseded"]
    done = json.loads(recalld("delete", str(lisbon), "--json").stdout)
    assert (done["id"], done["deleted"], done["purged"]) == (lisbon, True, False)


def test_an_agent_scope_is_found_by_name(recalld: Recalld, server: LiveServer) -> None:
    made = server.cli("agents", "create", "keeper")
    assert made.returncode == 0, made.stderr
    written = json.loads(recalld("add", "Ada likes rain", "--agent", "keeper", "--json").stdout)
    agent_id = written["added"][0]["agent_id"]
    assert agent_id.startswith("agent-")
    listed = recalld("list", "--agent", agent_id).stdout
    assert "Ada likes rain" in listed


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["add", "Ada", "--meta", "oops"], 2, "error: --meta takes key=value, not 'oops'"),
        (["add", "Ada", "--meta", "=1"], 2, "error: --meta takes key=value, not '=1'"),
        (
            ["search", "Ada", "--filter", "kind"],
            2,
            "error: --filter takes key=value, not 'kind'",
        ),
        (
            ["add", "--subject", "Ada"],
            2,
            "error: give a statement (TEXT) or --subject and --attribute",
        ),
        (["show", "abc"], 2, "error: a fact id is a number like 3 or #3, not 'abc'"),
        (["show", "999999"], 1, "error: fact 999999 not found"),
        (["history", "999999"], 1, "error: fact 999999 not found"),
        (["delete", "999999"], 1, "error: fact 999999 not found"),
        (["add", "Ada", "--agent", "nobody"], 1, "error: no agent named 'nobody'"),
    ],
)
def test_bad_input_is_one_friendly_line(
    recalld: Recalld, args: list[str], code: int, message: str
) -> None:
    result = recalld(*args)
    assert result.exit_code == code
    assert result.stderr == message + "\n" and result.stdout == ""


def test_a_refusal_from_the_server_is_one_friendly_line(recalld: Recalld) -> None:
    result = recalld("add", "Ada", "--kind", "bogus")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: facts[0]: ")
    assert "kind" in result.stderr and "Traceback" not in result.stderr


def test_an_unreachable_server_is_one_friendly_line(runner: CliRunner, nowhere: str) -> None:
    result = runner.invoke(app, ["--url", nowhere, "memories", "list"])
    assert result.exit_code == 1 and "cannot reach the recalld server" in result.stderr


def test_help_lists_the_commands(runner: CliRunner) -> None:
    shown = runner.invoke(app, ["memories", "--help"]).output
    listed = [line.split()[0] for line in shown.split("Commands:\n")[1].splitlines() if line]
    assert listed == ["add", "search", "list", "show", "history", "delete"]
