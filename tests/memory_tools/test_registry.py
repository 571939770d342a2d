from __future__ import annotations

import pytest

from memory_tools import ToolError, default_registry
from memory_tools.registry import ToolRegistry


def test_schemas_come_from_signatures_and_docstrings() -> None:
    schemas = {s["function"]["name"]: s["function"] for s in default_registry().schemas()}
    assert set(schemas) == {
        "core_memory_append",
        "core_memory_replace",
        "archival_memory_insert",
        "archival_memory_search",
        "conversation_search",
        "memory_search",
    }
    search = schemas["archival_memory_search"]
    assert search["parameters"]["required"] == ["query"]
    props = search["parameters"]["properties"]
    assert props["tags"]["type"] == ["array", "null"]
    assert props["page"]["type"] == "integer"
    assert "ISO date" in props["start_date"]["description"]
    assert search["description"].startswith("Search archival memory")
    assert "memory" not in props


def test_extra_tools_can_be_registered() -> None:
    registry = ToolRegistry()

    def shout(memory: object, text: str, times: int = 1) -> str:
        """Repeat text loudly.

        Args:
            text: What to shout.
            times: How often.
        """
        return text.upper() * times

    registry.register(shout)
    assert registry.run(None, "shout", '{"text": "hi", "times": 2}') == "HIHI"  # type: ignore[arg-type]
    schema = registry.schemas()[0]["function"]
    assert schema["parameters"]["required"] == ["text"]
    assert schema["parameters"]["properties"]["times"]["description"] == "How often."


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("nope", "{}", "unknown tool 'nope'"),
        ("core_memory_append", "{not json", "not valid JSON"),
        ("core_memory_append", "[1]", "must be a JSON object"),
        ("core_memory_append", '{"label": "human"}', "missing required argument(s) ['content']"),
        (
            "core_memory_append",
            '{"label": 3, "content": "x"}',
            "'label' of core_memory_append must be string",
        ),
        (
            "core_memory_append",
            '{"label": "h", "content": "x", "x": 1}',
            "unknown argument(s) ['x']",
        ),
    ],
)
def test_bad_calls_raise_tool_errors(name: str, raw: str, message: str) -> None:
    with pytest.raises(ToolError) as info:
        default_registry().run(None, name, raw)  # type: ignore[arg-type]
    assert message in str(info.value)
