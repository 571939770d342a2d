from __future__ import annotations

import pytest
from jinja2 import UndefinedError

import prompts
from agent_runtime.storage.tables import Block

GOLDEN_SYSTEM = """Be brief.

## How your memory works
Your context window is limited; your memory is not.
- Core memory (below) is always in view. Keep the essentials there with core_memory_append and core_memory_replace; each block has a size limit in characters.
- Archival memory holds passages you stored with archival_memory_insert and older conversation that was paged out of your context. Search it with archival_memory_search.
- Recall memory holds every message ever exchanged. Search it with conversation_search.
- When the conversation grows long, the oldest messages leave your context; a summary of them stays below.
Search results carry timestamps; use them to reason about when things happened.

## Core memory
<persona chars="6/100" read_only="true">
I help
</persona>
<human chars="3/50">
(About the user.)
Ada
</human>

## Memory statistics (as of the last memory change)
- 12 messages in recall memory
- 3 passages in archival memory
- last memory edit: never

## Summary of earlier conversation (paged out of context; details are in archival memory)
They talked about boats.
"""  # noqa: E501


def test_system_prompt_golden() -> None:
    blocks = [
        Block(id="b1", tenant_id="t", label="persona", value="I help", limit=100, read_only=True),
        Block(
            id="b2",
            tenant_id="t",
            label="human",
            value="Ada",
            limit=50,
            description="About the user.",
        ),
    ]
    rendered = prompts.render(
        "system.j2",
        instructions="Be brief.",
        blocks=blocks,
        message_count=12,
        passage_count=3,
        memory_edited_at="never",
        summary="They talked about boats.",
    )
    assert rendered == GOLDEN_SYSTEM


def test_missing_variables_fail_loudly() -> None:
    with pytest.raises(UndefinedError):
        prompts.render("summarize.j2", previous="", count=1)


def test_summary_prompt_carries_previous_summary_and_transcript() -> None:
    text = prompts.render(
        "summarize.j2",
        previous="Old summary.",
        count=2,
        transcript="user: hi\nassistant: hello",
        max_words=100,
    )
    assert "Old summary." in text and "assistant: hello" in text and "at most 100 words" in text
