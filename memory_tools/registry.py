"""A registry of tools whose JSON schemas come from their signatures and docstrings."""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from memory_tools.memory import Memory, ToolError

ToolFunction = Callable[..., str]

_ARG_LINE = re.compile(r"^\s{4,}(\w+):\s*(.*)$")


@dataclass(frozen=True)
class Tool:
    name: str
    function: ToolFunction
    schema: dict[str, Any]
    # A custom tool checks its own arguments (against its JSON schema); ours are checked here.
    checks_itself: bool = False

    def __call__(self, memory: Memory, arguments: dict[str, Any]) -> str:
        return self.function(memory, **arguments)


class ToolRegistry:
    def __init__(self) -> None:
        self._tools: dict[str, Tool] = {}

    def register(self, function: ToolFunction, *, name: str | None = None) -> ToolFunction:
        tool = Tool(name or function.__name__, function, schema_for(function, name))
        self._tools[tool.name] = tool
        return function

    def add(self, schema: dict[str, Any], call: Callable[[dict[str, Any]], str]) -> None:
        """A custom tool: `call` gets the arguments (a JSON object) and checks them itself."""
        self._tools[schema["name"]] = Tool(
            schema["name"], lambda _memory, **arguments: call(arguments), schema, True
        )

    def names(self) -> list[str]:
        return list(self._tools)

    def get(self, name: str) -> Tool:
        if name not in self._tools:
            raise ToolError(f"unknown tool {name!r}; available: {', '.join(self._tools)}")
        return self._tools[name]

    def schemas(self, names: list[str] | None = None) -> list[dict[str, Any]]:
        chosen = self._tools if names is None else {n: self._tools[n] for n in names}
        return [{"type": "function", "function": t.schema} for t in chosen.values()]

    def copy(self) -> ToolRegistry:
        clone = ToolRegistry()
        clone._tools = dict(self._tools)
        return clone

    def run(self, memory: Memory, name: str, raw_arguments: str) -> str:
        """Run a tool call as the model wrote it; every failure becomes a ToolError."""
        tool = self.get(name)
        try:
            arguments = json.loads(raw_arguments) if raw_arguments.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolError(
                f"arguments are not valid JSON ({exc.msg}); send a JSON object"
            ) from exc
        if not isinstance(arguments, dict):
            raise ToolError("arguments must be a JSON object")
        if tool.checks_itself:
            return tool(memory, arguments)
        properties = tool.schema["parameters"]["properties"]
        unknown = sorted(set(arguments) - set(properties))
        if unknown:
            raise ToolError(f"unknown argument(s) {unknown}; {name} takes {sorted(properties)}")
        missing = [p for p in tool.schema["parameters"]["required"] if p not in arguments]
        if missing:
            raise ToolError(f"missing required argument(s) {missing} for {name}")
        for key, value in arguments.items():
            _check_type(name, key, value, properties[key])
        return tool(memory, arguments)


def _check_type(tool: str, key: str, value: Any, schema: dict[str, Any]) -> None:
    kinds = schema.get("type")
    allowed = kinds if isinstance(kinds, list) else [kinds]
    checks = {
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "array": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
        "null": lambda v: v is None,
        "boolean": lambda v: isinstance(v, bool),
    }
    if not any(checks[k](value) for k in allowed if k in checks):
        kinds = " or ".join(str(k) for k in allowed)
        raise ToolError(f"argument {key!r} of {tool} must be {kinds}")


def schema_for(function: ToolFunction, name: str | None = None) -> dict[str, Any]:
    """An OpenAI function schema from `function`'s signature and Google-style docstring."""
    doc = inspect.getdoc(function) or ""
    summary, arg_docs = _parse_doc(doc)
    hints = typing.get_type_hints(function)
    properties: dict[str, Any] = {}
    required: list[str] = []
    parameters = list(inspect.signature(function).parameters.values())[1:]  # skip memory
    for param in parameters:
        prop = _json_type(hints[param.name])
        if param.name in arg_docs:
            prop["description"] = arg_docs[param.name]
        properties[param.name] = prop
        if param.default is inspect.Parameter.empty:
            required.append(param.name)
    return {
        "name": name or function.__name__,
        "description": summary,
        "parameters": {"type": "object", "properties": properties, "required": required},
    }


def _parse_doc(doc: str) -> tuple[str, dict[str, str]]:
    head, _, rest = doc.partition("\nArgs:\n")
    args: dict[str, str] = {}
    current = None
    for line in rest.splitlines():
        match = _ARG_LINE.match(line)
        if match:
            current = match.group(1)
            args[current] = match.group(2).strip()
        elif current and line.strip():
            args[current] += " " + line.strip()
    return " ".join(head.split()), args


def _json_type(hint: Any) -> dict[str, Any]:
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        members = [a for a in typing.get_args(hint) if a is not type(None)]
        inner = _json_type(members[0])
        inner["type"] = [inner["type"], "null"]
        return inner
    if origin is list:
        return {"type": "array", "items": {"type": "string"}}
    mapping = {str: "string", int: "integer", bool: "boolean"}
    return {"type": mapping[hint]}


def default_registry() -> ToolRegistry:
    """The six memory tools."""
    from memory_tools import archival, conversation, core, facts

    registry = ToolRegistry()
    for function in (
        core.core_memory_append,
        core.core_memory_replace,
        archival.archival_memory_insert,
        archival.archival_memory_search,
        conversation.conversation_search,
        facts.memory_search,
    ):
        registry.register(function)
    return registry
