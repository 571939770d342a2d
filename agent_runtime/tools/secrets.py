"""Secrets a tool's headers name as ``${secret:NAME}``, resolved only at call time.

A tool's stored headers keep the reference, never the value, so API responses, exports and
logs show ``${secret:NAME}``. The values come from ``Settings.tool_secrets``
(``RECALLD_TOOL_SECRETS=WEATHER_KEY=WEATHER_API_KEY@https://api.weather.example/``: the variable
holding each and the URL prefix it is bound to). A secret goes only to a URL under its prefix:
checked when a tool is saved and again at every call, so a tenant cannot point a tool naming the
operator's secret at another allowed URL (an endpoint of its own that echoes headers, say).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from agent_runtime.core.errors import InvalidInput
from agent_runtime.core.settings import ToolSecret
from agent_runtime.llm import endpoints
from memory_tools import ToolError

REFERENCE = re.compile(r"\$\{secret:([A-Za-z0-9_]+)\}")


def names(value: str) -> list[str]:
    """The secret names `value` refers to."""
    return REFERENCE.findall(value)


def by_name(configured: tuple[ToolSecret, ...]) -> dict[str, ToolSecret]:
    return {secret.name: secret for secret in configured}


def _refusal(name: str, url: str, known: Mapping[str, ToolSecret]) -> str | None:
    """Why secret `name` may not go to `url` (None: it may)."""
    secret = known.get(name)
    if secret is None:
        return (
            f"secret {name!r} is not on this server (add {name}=ENV_VARIABLE@URL_PREFIX to "
            "RECALLD_TOOL_SECRETS)"
        )
    if not endpoints.under(url, secret.url_prefix):
        return f"secret {name!r} may only be sent to URLs under {secret.url_prefix}"
    return None


def check(headers: Mapping[str, str], url: str, known: Mapping[str, ToolSecret]) -> None:
    """Every secret the headers name exists and may go to `url` (InvalidInput names the first
    that may not)."""
    for header, value in headers.items():
        for name in names(value):
            refusal = _refusal(name, url, known)
            if refusal:
                raise InvalidInput(f"header {header!r}: {refusal}", field="headers")


def resolve(
    headers: Mapping[str, str], url: str, known: Mapping[str, ToolSecret]
) -> dict[str, str]:
    """The headers with each ``${secret:NAME}`` replaced by its value, for a request to `url`.

    ToolError when a secret is gone or no longer bound to `url` (the settings changed since the
    tool was saved): the call is not made, rather than made with a blank or misdirected header.
    """

    def value(match: re.Match[str]) -> str:
        refusal = _refusal(match.group(1), url, known)
        if refusal:
            raise ToolError(f"the tool's call was not made: {refusal}")
        return known[match.group(1)].value

    return {header: REFERENCE.sub(value, text) for header, text in headers.items()}
