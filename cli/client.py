"""The CLI's client: `recalld.Client` (the documented Python API) under the names the commands
use.

    from cli.client import RecalldClient
    with RecalldClient("http://127.0.0.1:8300") as api:
        agent = api.create_agent(name="helper")
        turn = api.send(agent["id"], "My name is Ada")
"""

from __future__ import annotations

from recalld import DEFAULT_URL, JSON, ApiError, Client, Event

__all__ = ["DEFAULT_URL", "JSON", "ApiError", "Event", "RecalldClient"]


class RecalldClient(Client):
    """`recalld.Client`, plus the older names the commands call."""

    blocks = Client.list_blocks
    block = Client.get_block
    memory = Client.get_memory
    agent = Client.get_agent
    _request = Client.request
