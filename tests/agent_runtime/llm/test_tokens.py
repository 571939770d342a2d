"""Token counts: the offline model's own count, litellm's for a provider's model."""

from __future__ import annotations

from agent_runtime.llm.tokens import PER_MESSAGE, TokenCounter, offline_text


def test_offline_counts_words_marks_and_long_words() -> None:
    assert offline_text("") == 0
    assert offline_text("I live in Porto.") == 5
    assert offline_text("internationalisation") == 1 + 3  # 20 letters: one more per 6 past 6
    assert offline_text("x" * 7) == 2


def test_offline_message_counts_its_content_tool_calls_and_framing() -> None:
    counter = TokenCounter()
    plain = counter.message("offline", {"role": "user", "content": "I live in Porto."})
    assert plain == PER_MESSAGE + 5
    parts = {"role": "user", "content": [{"type": "text", "text": "I live in Porto."}]}
    assert counter.message("offline", parts) == plain
    call = {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "archival_memory_insert", "arguments": '{"content": "x"}'},
            }
        ],
    }
    assert counter.message("offline", call) > PER_MESSAGE + 5  # the call's name and arguments


def test_a_provider_model_is_counted_by_litellm() -> None:
    counter = TokenCounter()
    text = "The quick brown fox jumps over the lazy dog. " * 20
    counted = counter.text("openai/gpt-4o-mini", text)
    assert counted != counter.text("offline", text)
    assert 150 <= counted <= 300
