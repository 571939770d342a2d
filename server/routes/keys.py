"""API keys under /v1/keys: an admin key makes, lists and revokes its own tenant's keys.

A new key is shown once, in the answer that makes it; only its hash is stored. An admin may not
make keys for another tenant, nor see or revoke them (another tenant's key id is a 404). A key
revoked here is refused at once by this server process, and by other processes serving the same
database within a minute (their key cache's lifetime, `storage/keys.KeyLookup`)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from agent_runtime.core.errors import Forbidden
from agent_runtime.storage import keys
from server.api import Call, Operation
from server.auth import Auth
from server.key_models import KeyCreate, KeyCreated, KeyOut, KeyPath, KeysOut


async def _admin_tenant(call: Call) -> str:
    auth: Auth = call.request.app.state.auth
    return await run_in_threadpool(auth.admin, call.request)


async def create_key(call: Call) -> KeyCreated:
    tenant = await _admin_tenant(call)
    body = call.body(KeyCreate)
    if body.tenant is not None and body.tenant != tenant:
        raise Forbidden(f"an admin key makes keys for its own tenant ({tenant}) only")
    made = await run_in_threadpool(keys.issue, call.runtime.engine, tenant, body.name, body.role)
    return KeyCreated(**KeyOut.of(made.row).model_dump(), key=made.secret)


async def list_keys(call: Call) -> KeysOut:
    tenant = await _admin_tenant(call)
    rows = await run_in_threadpool(keys.listing, call.runtime.engine, tenant)
    return KeysOut(data=[KeyOut.of(row) for row in rows])


async def revoke_key(call: Call) -> KeyOut:
    tenant = await _admin_tenant(call)
    key_id = call.path(KeyPath).key_id
    row = await run_in_threadpool(call.runtime.keys.revoke, key_id, tenant)
    return KeyOut.of(row)


operations = [
    Operation(
        "POST",
        "/v1/keys",
        create_key,
        "Make an API key for the admin key's tenant (the key is in this answer only)",
        "Needs an admin key. `tenant`, if given, must be the admin key's own.",
        body=KeyCreate,
        response=KeyCreated,
        status=201,
        errors=(403,),
    ),
    Operation(
        "GET",
        "/v1/keys",
        list_keys,
        "The admin key's tenant's API keys, revoked ones too (never the keys themselves)",
        "Needs an admin key.",
        response=KeysOut,
        errors=(403,),
    ),
    Operation(
        "DELETE",
        "/v1/keys/{key_id}",
        revoke_key,
        "Revoke an API key of the admin key's tenant",
        "Needs an admin key. The key is refused from now on (by other server processes on the "
        "same database, within a minute); it stays in the list with its `revoked_at`. Revoking "
        "it again changes nothing.",
        path_params=KeyPath,
        response=KeyOut,
        errors=(403, 404),
    ),
]
