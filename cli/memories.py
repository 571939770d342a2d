"""`recalld memories`: write facts to fact memory, search and list them, read one and its history,
and retire or purge one. Each write says what it changed: added, merged, superseded, negated."""

from __future__ import annotations

import math
import re
import sys
from typing import Any, NoReturn

import typer
from rich.markup import escape

from cli.client import JSON, RecalldClient
from cli.options import Options
from cli.output import emit, err, friendly, group, out

app = group("Fact memory: facts that supersede, merge and negate, with their history.")

INTEGER = re.compile(r"-?\d+")
DECIMAL = re.compile(r"-?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")

# Options several commands share.
USER = typer.Option(None, "--user", metavar="<id>", help="Whose memory: a user id.")
AGENT = typer.Option(None, "--agent", metavar="<agent>", help="An agent's memory: name or id.")
RUN = typer.Option(None, "--run", metavar="<id>", help="One run's memory: a run id.")
KIND = typer.Option(None, "--kind", help="fact, preference, event, plan or relationship.")
SUBJECT = typer.Option(None, "--subject", help="Who or what the fact is about, e.g. Ada.")
ATTRIBUTE = typer.Option(None, "--attribute", help="The slot, e.g. lives_in.")
AS_OF = typer.Option(None, "--as-of", metavar="<date>", help="Facts true then (ISO date).")
HISTORY = typer.Option(False, "--history", help="Include retired facts (marked by status).")
AS_JSON = typer.Option(False, "--json")


@app.command("add")
def add(
    ctx: typer.Context,
    text: str | None = typer.Argument(None, help="A free statement, e.g. 'Ada likes green tea'."),
    subject: str | None = SUBJECT,
    attribute: str | None = ATTRIBUTE,
    value: str | None = typer.Option(None, "--value", help="The slot's value, e.g. Lisbon."),
    kind: str | None = KIND,
    cardinality: str | None = typer.Option(
        None, "--cardinality", help="single or many (default: the attribute's usual one)."
    ),
    negates: bool = typer.Option(
        False, "--negates", help="No longer true: retire the value it names."
    ),
    valid_at: str | None = typer.Option(
        None, "--valid-at", metavar="<date>", help="True since (ISO date; default now)."
    ),
    evidence: list[str] = typer.Option(
        [], "--evidence", metavar="<text>", help="Where it comes from (repeatable)."
    ),
    meta: list[str] = typer.Option(
        [],
        "--meta",
        metavar="<key=value>",
        help="Metadata (repeatable); numbers, true and false are read as such.",
    ),
    ttl_days: float | None = typer.Option(None, "--ttl-days", help="Forget it after this long."),
    user: str | None = USER,
    agent: str | None = AGENT,
    run: str | None = RUN,
    as_json: bool = AS_JSON,
) -> None:
    """Write a fact: a statement (TEXT), or a slot (--subject, --attribute, --value)."""
    options = Options.of(ctx)
    if not (text or (subject and attribute)):
        _refuse("give a statement (TEXT) or --subject and --attribute")
    given = {
        "text": text,
        "subject": subject,
        "attribute": attribute,
        "value": value,
        "kind": kind,
        "cardinality": cardinality,
        "negates": negates or None,
        "valid_at": valid_at,
        "evidence": evidence or None,
        "metadata": _pairs("--meta", meta, typed=True) or None,
        "ttl_days": ttl_days,
    }
    fact = {k: v for k, v in given.items() if v is not None}
    with options.client() as api, friendly(options.debug):
        written = api.add_memories([fact], **_scope(api, user, agent, run))
    emit(written, as_json, lambda: _print_write(written))


def _print_write(written: JSON) -> None:
    for f in written["added"]:
        past = "" if f["status"] == "current" else f"  {_when(f)}"
        out.print(f"added #{f['id']} {f['text']}{past}", markup=False)
    for f in written["merged"]:
        out.print(f"merged into #{f['id']} {f['text']}", markup=False)
    for s in written["superseded"]:
        f = s["fact"]
        out.print(f"superseded #{f['id']} {f['text']} (by #{s['superseded_by']})", markup=False)
    for f in written["negated"]:
        out.print(f"negated #{f['id']} {f['text']}", markup=False)
    for u in written["unchanged"]:
        out.print(f"unchanged: {u['reason'] or 'nothing to change'}", markup=False)


@app.command("search")
def search(
    ctx: typer.Context,
    query: str,
    user: str | None = USER,
    agent: str | None = AGENT,
    run: str | None = RUN,
    as_of: str | None = AS_OF,
    history: bool = HISTORY,
    limit: int = typer.Option(10, "--limit"),
    threshold: float | None = typer.Option(
        None, "--threshold", help="The least cosine similarity a hit must have (-1 to 1)."
    ),
    kind: str | None = KIND,
    subject: str | None = SUBJECT,
    attribute: str | None = ATTRIBUTE,
    filter_: list[str] = typer.Option(
        [],
        "--filter",
        metavar="<key=value>",
        help="Only facts whose field equals the value (repeatable): value, cardinality, "
        "valid_at, metadata.<key>, ...",
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Search facts by keywords and meaning: those true now, unless --as-of or --history."""
    options = Options.of(ctx)
    named = {"kind": kind, "subject": subject, "attribute": attribute}
    filters = {
        **{k: v for k, v in named.items() if v is not None},
        **_pairs("--filter", filter_, typed=False),
    }
    with options.client() as api, friendly(options.debug):
        hits = api.search_memories(
            query,
            **_scope(api, user, agent, run),
            filters=filters,
            as_of=as_of,
            include_history=history,
            limit=limit,
            threshold=threshold,
        )["data"]

    def human() -> None:
        if not hits:
            out.print("nothing found")
        for h in hits:
            out.print(_line(h), markup=False)

    emit(hits, as_json, human)


@app.command("list")
def list_facts(
    ctx: typer.Context,
    user: str | None = USER,
    agent: str | None = AGENT,
    run: str | None = RUN,
    kind: str | None = KIND,
    subject: str | None = SUBJECT,
    attribute: str | None = ATTRIBUTE,
    as_of: str | None = AS_OF,
    history: bool = HISTORY,
    limit: int = typer.Option(50, "--limit"),
    after: int | None = typer.Option(
        None, "--after", metavar="<id>", help="The page after this fact id."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """List facts in id order, a page at a time."""
    options = Options.of(ctx)
    with options.client() as api, friendly(options.debug):
        page = api.list_memories(
            **_scope(api, user, agent, run),
            kind=kind,
            subject=subject,
            attribute=attribute,
            as_of=as_of,
            include_history=history,
            limit=limit,
            after=after,
        )

    def human() -> None:
        if not page["data"]:
            out.print("no facts")
        for f in page["data"]:
            out.print(_line(f), markup=False)
        if page["next"] is not None:
            err.print(f"more: --after {page['next']}", markup=False)

    emit(page, as_json, human)


@app.command("show")
def show(ctx: typer.Context, fact_id: str, as_json: bool = AS_JSON) -> None:
    """Show a fact: its slot, validity, scope, evidence and metadata."""
    options = Options.of(ctx)
    number = _fact_id(fact_id)
    with options.client() as api, friendly(options.debug):
        fact = api.memory(number)

    def human() -> None:
        out.print(_line(fact), markup=False)
        if fact["attribute"] and fact["value"]:
            slot = f"{fact['subject']} / {fact['attribute']} = {fact['value']}"
            out.print(f"slot: {slot} ({fact['cardinality']})", markup=False)
        out.print(f"kind: {fact['kind']}", markup=False)
        scope = [f"{k} {fact[k + '_id']}" for k in ("user", "agent", "run") if fact[k + "_id"]]
        out.print(f"scope: {', '.join(scope) or 'none'}", markup=False)
        if fact["superseded_by"] is not None:
            out.print(f"superseded by: #{fact['superseded_by']}")
        if fact["expires_at"]:
            out.print(f"expires: {_day(fact['expires_at'])}")
        if fact["evidence"]:
            out.print(f"evidence ({fact['evidence_count']}):", markup=False)
        for item in fact["evidence"]:
            out.print(f"  {item}", markup=False)
        for key, value in fact["metadata"].items():
            out.print(f"meta {key}={value}", markup=False)

    emit(fact, as_json, human)


@app.command("history")
def history(ctx: typer.Context, fact_id: str, as_json: bool = AS_JSON) -> None:
    """A fact's history: every change, oldest first."""
    options = Options.of(ctx)
    number = _fact_id(fact_id)
    with options.client() as api, friendly(options.debug):
        events = api.memory_history(number)["data"]

    def human() -> None:
        for e in events:
            when = e["created_at"][:19].replace("T", " ")
            out.print(f"{when}  {e['event']:<10} {_change(e)}".rstrip(), markup=False)

    emit(events, as_json, human)


def _change(event: JSON) -> str:
    """What an event changed, as a person reads it."""
    old, new, data = event["old_value"], event["new_value"], event["data"]
    parts = [f"{old} → {new}" if old and new else (new or old or "")]
    if data.get("by") is not None:
        parts.append(f"(by #{data['by']})")
    if data.get("changed"):
        parts.append(f"({', '.join(data['changed'])})")
    if event["event"] == "merged" and data.get("evidence"):
        parts.append(f"evidence: {'; '.join(data['evidence'])}")
    if event["event"] == "purged":
        parts.append(f"{data.get('history_events', 0)} earlier events erased")
    return " ".join(p for p in parts if p)


@app.command("delete")
def delete(
    ctx: typer.Context,
    fact_id: str,
    purge: bool = typer.Option(
        False, "--purge", help="Erase its text, vectors and the values its history held."
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y", help="Purge without asking (needed when piped)."
    ),
    as_json: bool = AS_JSON,
) -> None:
    """Retire a fact, keeping its history; or with --purge erase it for good."""
    options = Options.of(ctx)
    number = _fact_id(fact_id)
    if purge and not yes and not sys.stdin.isatty():
        _refuse(f"not purging #{number}: with no terminal to confirm on, add --yes")
    with options.client() as api:
        if purge and not yes:
            with friendly(options.debug):
                fact = api.memory(number)
            if not typer.confirm(f"erase #{number} {fact['text']!r} and its history values?"):
                err.print(f"kept #{number}", markup=False)
                raise typer.Exit(1)
        with friendly(options.debug):
            done = api.delete_memory(number, purge=purge)

    def human() -> None:
        if not done["purged"]:
            out.print(f"deleted #{done['id']} (its history is kept)", markup=False)
            return
        erased = done["erased"] or {}
        what = [f"its {name}" for name in ("text", "vectors") if erased.get(name)]
        events = erased.get("history_events", 0)
        what.append(f"the values of {events} history event{'' if events == 1 else 's'}")
        listed = ", ".join(what[:-1]) + f" and {what[-1]}" if len(what) > 1 else what[0]
        out.print(f"purged #{done['id']}: erased {listed}", markup=False)

    emit(done, as_json, human)


# -- shared -------------------------------------------------------------------------------------


def _scope(api: RecalldClient, user: str | None, agent: str | None, run: str | None) -> JSON:
    """The scope options as the API's fields, the agent found by name or id."""
    agent_id = api.find_agent(agent)["id"] if agent else None
    return {"user_id": user, "agent_id": agent_id, "run_id": run}


def _line(fact: JSON) -> str:
    """`#3  Ada lives in Lisbon  [current, since 2023-05-01]`"""
    return f"#{fact['id']}  {fact['text'] or '(erased)'}  {_when(fact)}"


def _when(fact: JSON) -> str:
    """A fact's status and the time it held: `[superseded, 2020-01-01 → 2023-05-01]`."""
    start = _day(fact["valid_at"])
    held = f"{start} → {_day(fact['invalid_at'])}" if fact["invalid_at"] else f"since {start}"
    if fact["status"] == "future":
        held = f"from {start}"
    return f"[{fact['status']}, {held}]"


def _day(moment: str) -> str:
    return moment[:10]


def _fact_id(text: str) -> int:
    """A fact id as the commands print it (#3) or bare (3)."""
    digits = text.removeprefix("#")
    if not (digits.isascii() and digits.isdigit()):
        _refuse(f"a fact id is a number like 3 or #3, not {text!r}")
    return int(digits)


def _pairs(option: str, given: list[str], *, typed: bool) -> dict[str, Any]:
    """`key=value` options as a dict; with `typed`, numbers, true and false are read as such.
    A metadata filter's value is typed too, since metadata is compared by type."""
    pairs: dict[str, Any] = {}
    for item in given:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            _refuse(f"{option} takes key=value, not {item!r}")
        key = key.strip()
        pairs[key] = _scalar(value) if typed or key.startswith("metadata.") else value
    return pairs


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if INTEGER.fullmatch(text):
        return int(text)
    if DECIMAL.fullmatch(text) and math.isfinite(float(text)):
        return float(text)
    return text


def _refuse(message: str) -> NoReturn:
    """Bad input caught before asking the server: one line, and the usage-error exit code."""
    err.print(f"[red]error:[/red] {escape(message)}")
    raise typer.Exit(2)
