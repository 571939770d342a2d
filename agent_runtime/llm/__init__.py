"""The model seam: an `LLM` protocol; litellm, scripted (fake) and offline implementations."""

from agent_runtime.llm.base import LLM, ChatRequest, ChatResponse, Delta, DeltaSink, ToolCall, Usage

__all__ = ["LLM", "ChatRequest", "ChatResponse", "Delta", "DeltaSink", "ToolCall", "Usage"]
