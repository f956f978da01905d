"""GET /generation?id=: one of the calling key's generations (another key's id is a 404, as if absent)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lambdarouter.admin.keys import generation_data
from lambdarouter.core.errors import bad_request
from lambdarouter.http.control import calling_key, data, not_found
from lambdarouter.store import same_hash


async def generation(request: Request) -> Response:
    store, key = await calling_key(request)
    generation_id = request.query_params.get("id")
    if not generation_id:
        raise bad_request("Missing `id` query parameter.")
    record = await store.get_generation(generation_id)
    if record is None or not same_hash(record.key_hash, key.hash):
        raise not_found(f"Generation {generation_id}")
    return data(generation_data(record))


ROUTES = [Route("/generation", generation, methods=["GET"])]
