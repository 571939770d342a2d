"""The model seam: an `LLM` protocol; litellm, scripted (fake) and offline implementations."""

from agent_runtime.llm.base import (
    LLM,
    Attempt,
    ChatRequest,
    ChatResponse,
    Delta,
    DeltaSink,
    ToolCall,
    Usage,
)

__all__ = [
    "LLM",
    "Attempt",
    "ChatRequest",
    "ChatResponse",
    "Delta",
    "DeltaSink",
    "ToolCall",
    "Usage",
]
