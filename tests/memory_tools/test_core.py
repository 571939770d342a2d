from __future__ import annotations

from datetime import datetime

import pytest

from memory_tools import Hit, ToolError
from memory_tools.core import core_memory_append, core_memory_replace
from memory_tools.memory import BlockView
from memory_tools.results import parse_day


class Blocks:
    """A Memory that holds blocks in a dict; enough for the core tools."""

    def __init__(self, **blocks: tuple[str, int, bool]) -> None:
        self.blocks = {k: BlockView(k, v, lim, ro) for k, (v, lim, ro) in blocks.items()}

    def block(self, label: str) -> BlockView:
        if label not in self.blocks:
            raise ToolError(f"no block {label!r}")
        return self.blocks[label]

    def write_block(self, label: str, value: str) -> None:
        b = self.blocks[label]
        self.blocks[label] = BlockView(label, value, b.limit, b.read_only)

    def insert_passage(self, text: str, tags: list[str]) -> int:
        raise NotImplementedError

    def search_passages(self, *args: object) -> tuple[list[Hit], int]:
        raise NotImplementedError

    def search_messages(self, *args: object) -> tuple[list[Hit], int]:
        raise NotImplementedError


def test_append_adds_a_line_and_reports_size() -> None:
    memory = Blocks(human=("Name: Ada", 100, False))
    result = core_memory_append(memory, "human", "Likes tea")
    assert memory.blocks["human"].value == "Name: Ada\nLikes tea"
    assert "19 of 100" in result


def test_append_over_limit_says_size_and_limit_and_changes_nothing() -> None:
    memory = Blocks(human=("x" * 95, 100, False))
    with pytest.raises(ToolError) as info:
        core_memory_append(memory, "human", "0123456789")
    assert "106 characters" in str(info.value) and "limit of 100" in str(info.value)
    assert memory.blocks["human"].value == "x" * 95


def test_read_only_blocks_refuse_edits() -> None:
    memory = Blocks(rules=("Be kind", 100, True))
    with pytest.raises(ToolError, match="read-only"):
        core_memory_append(memory, "rules", "Be rude")
    with pytest.raises(ToolError, match="read-only"):
        core_memory_replace(memory, "rules", "kind", "rude")


def test_replace_needs_exact_old_text() -> None:
    memory = Blocks(human=("Lives in Porto", 100, False))
    with pytest.raises(ToolError, match="not found"):
        core_memory_replace(memory, "human", "Lisbon", "Faro")
    core_memory_replace(memory, "human", "Porto", "Lisbon")
    assert memory.blocks["human"].value == "Lives in Lisbon"
    core_memory_replace(memory, "human", " in Lisbon", "")
    assert memory.blocks["human"].value == "Lives"


def test_replace_over_limit_is_refused() -> None:
    memory = Blocks(human=("short", 10, False))
    with pytest.raises(ToolError, match="over its limit of 10"):
        core_memory_replace(memory, "human", "short", "much much longer")


def test_dates_parse_as_utc_and_end_dates_cover_the_day() -> None:
    start = parse_day("2024-05-01", "start_date")
    end = parse_day("2024-05-01", "end_date", end=True)
    assert start is not None and end is not None
    assert start.isoformat() == "2024-05-01T00:00:00+00:00"
    assert end.hour == 23 and end.minute == 59
    assert parse_day("2024-05-01T10:00:00+02:00", "x") == datetime.fromisoformat(
        "2024-05-01T08:00:00+00:00"
    )
    with pytest.raises(ToolError, match="ISO date"):
        parse_day("last tuesday", "start_date")


@pytest.mark.parametrize("value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00"])
def test_a_zone_that_moves_a_date_past_the_calendar_is_refused(value: str) -> None:
    with pytest.raises(ToolError, match="outside years 1 to 9999"):
        parse_day(value, "start_date")
