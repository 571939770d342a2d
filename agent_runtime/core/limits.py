"""Every size limit of recalld's inputs in one place, so the runtime, the REST schemas and the
OpenAPI document agree. Limits that an operator may want to move are settings
(`Settings.max_body_bytes`, `Settings.max_messages_per_send`); the rest are fixed here.

A value over a limit is refused whole (422, or 413 for a body or block value that is too large),
with the limit named in the message; nothing is cut silently.
"""

from __future__ import annotations

# Ids and pages
MAX_ID_CHARS = 100  # the ids we make are under 40 characters
MAX_PAGE = 500  # rows per page of a REST listing

# Agents
MAX_AGENT_NAME_CHARS = 100
MIN_CONTEXT_WINDOW = 256
MAX_CONTEXT_WINDOW = 10_000_000
MAX_MODEL_CHARS = 200
MAX_BASE_URL_CHARS = 2_000
MAX_FALLBACK_MODELS = 3  # an agent's models to try, in order, after its own fails
MAX_RETRY_SECONDS = 600.0  # an agent's budget for retrying one step
MAX_SYSTEM_CHARS = 20_000  # an agent's instructions
MAX_STEPS_LIMIT = 1_000

# Core memory
MAX_LABEL_CHARS = 40
MAX_BLOCK_LIMIT = 100_000  # a block's own size limit may be set up to this
MAX_BLOCK_DESCRIPTION_CHARS = 1_000
MAX_BLOCKS_PER_AGENT = 32

# Messages and history
MAX_INPUT_CHARS = 200_000  # one message
MAX_IMPORT = 10_000  # messages per history import
MAX_IDEMPOTENCY_KEY_CHARS = 200

# Archival memory
MAX_PASSAGE_CHARS = 100_000
MAX_TAGS = 32  # per passage
MAX_TAG_CHARS = 64

# Fact memory
MAX_FACT_CHARS = 2_000  # a fact's statement: one thing, said in a sentence or two
MAX_FACT_FIELD_CHARS = 200  # subject, attribute, scope ids
MAX_FACT_VALUE_CHARS = 1_000
MAX_FACTS_PER_WRITE = 1_000
MAX_EVIDENCE = 20  # kept per fact (the count goes on)
MAX_EVIDENCE_CHARS = 200
MAX_METADATA_KEYS = 32
MAX_METADATA_CHARS = 4_000  # a fact's metadata as JSON
MAX_FILTERS = 16
MAX_TTL_DAYS = 36_500

# Search
MAX_QUERY_CHARS = 4_000
MAX_OFFSET = 10_000

# Jobs
MAX_GOAL_CHARS = 20_000
MAX_JOB_STEPS = 10_000
MAX_SCHEDULE_SECONDS = 366 * 86_400  # an interval schedule runs at least once a year
MAX_SCHEDULE_CHARS = 100  # an interval or a five-field cron line

# Requests
MAX_JSON_DEPTH = 32  # nesting of a request body
# Numeric ids in paths and cursors: the id columns are 32-bit INTEGER on PostgreSQL, so a
# larger cursor would fail in the database rather than be refused here.
MAX_ID_VALUE = 2**31 - 1

# Custom tools
MAX_TOOL_NAME_CHARS = 64  # what providers accept as a function name
MAX_TOOL_DESCRIPTION_CHARS = 2_000
MAX_TOOL_SCHEMA_BYTES = 20_000  # a tool's parameters schema, as JSON
MAX_TOOL_URL_CHARS = 2_000
MAX_TOOL_HEADERS = 20
MAX_TOOL_HEADER_CHARS = 2_000  # a header's name or value
MAX_TOOL_RESPONSE_BYTES = 64_000  # of a tool's response body; the rest is cut, and said so
MAX_MCP_SERVER_NAME_CHARS = 24  # its tools are named SERVER__TOOL, within MAX_TOOL_NAME_CHARS
MAX_MCP_TOOLS = 100  # tools taken from one MCP server; the rest are listed as skipped
MAX_MCP_COMMAND_PARTS = 20  # a stdio server's command and its arguments
