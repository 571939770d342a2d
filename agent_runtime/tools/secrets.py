"""Secrets a tool's headers name as ``${secret:NAME}``, resolved only at call time.

A tool's stored headers keep the reference, never the value, so API responses, exports and
logs show ``${secret:NAME}``. The values come from ``Settings.tool_secrets``
(``RECALLD_TOOL_SECRETS=WEATHER_KEY=WEATHER_API_KEY``: the variable holding each).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent_runtime.core.errors import InvalidInput

REFERENCE = re.compile(r"\$\{secret:([A-Za-z0-9_]+)\}")


def names(value: str) -> list[str]:
    """The secret names `value` refers to."""
    return REFERENCE.findall(value)


def check(headers: Mapping[str, str], known: Mapping[str, str]) -> None:
    """Every secret the headers name exists on this server (InvalidInput names the first not)."""
    for header, value in headers.items():
        for name in names(value):
            if name not in known:
                raise InvalidInput(
                    f"header {header!r} names secret {name!r}, which this server does not have "
                    f"(add {name}=ENV_VARIABLE to RECALLD_TOOL_SECRETS)",
                    field="headers",
                )


def resolve(headers: Mapping[str, str], known: Mapping[str, str]) -> dict[str, str]:
    """The headers with each ``${secret:NAME}`` replaced by its value (an unknown name: empty)."""
    return {
        header: REFERENCE.sub(lambda m: known.get(m.group(1), ""), value)
        for header, value in headers.items()
    }
