"""`lambdarouter serve | keys ... | usage | store init`: the local gateway and its bookkeeping, on the same
store the server uses (DynamoDB when LAMBDAROUTER_KEYS_TABLE / LAMBDAROUTER_USAGE_TABLE are set, else
the SQLite file at LAMBDAROUTER_DB)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import json
import sys
import time
from collections.abc import AsyncIterator, Coroutine, Sequence
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError

from lambdarouter.admin.key_body import KeyBody
from lambdarouter.admin.keys import iso, key_data, parse_time
from lambdarouter.admin.usage import by_group
from lambdarouter.core.config import Settings
from lambdarouter.http.errors import validation_error
from lambdarouter.http.header_timeout import DEFAULT_HEADER_TIMEOUT, header_timeout_protocol
from lambdarouter.store import KeyRecord, RateLimit, Store, StoreUnavailable, describe, open_store

T = TypeVar("T")


class CommandError(Exception):
    """A mistake in the command line or its arguments: printed, exit status 2."""


def _store() -> Store:
    return open_store(Settings.from_env())


def _show(record: KeyRecord, as_json: bool, plaintext: str | None = None) -> None:
    now = time.time()
    if as_json:
        print(json.dumps({"data": key_data(record, now), **({"key": plaintext} if plaintext else {})}))
        return
    if plaintext:
        print(f"Created key {record.name!r} ({record.label}). It is shown only once:\n\n  {plaintext}\n")
    for name, value in key_data(record, now).items():
        print(f"{name:>16}: {value}")


async def _find(store: Store, ref: str) -> KeyRecord:
    """A key by its hash or a unique prefix of it (at least 6 characters)."""
    record = await store.find_key(ref)
    if record is not None:
        return record
    matches = [r for r in await store.list_keys() if len(ref) >= 6 and r.hash.startswith(ref)]
    if len(matches) != 1:
        raise CommandError(f"no key {'uniquely ' if matches else ''}matches {ref!r}")
    return matches[0]


def _key_body(args: argparse.Namespace) -> KeyBody:
    """The command's settings as the admin API's body, so that both refuse the same values (keys.py); `none`
    clears a setting."""
    raw: dict[str, Any] = {}
    for name in ("name", "label", "limit", "limit_reset", "expires_at", "rate_limit"):
        value = getattr(args, name, None)
        if value is not None:
            raw[name] = None if value.lower() == "none" else value
    if raw.get("rate_limit") is not None:
        rate = RateLimit.parse(raw["rate_limit"])
        raw["rate_limit"] = {"requests": rate.requests, "interval": rate.interval_text}
    if getattr(args, "allowed_model", None):
        raw["allowed_models"] = args.allowed_model
    if getattr(args, "any_model", False):
        raw["allowed_models"] = None
    if getattr(args, "enable", False):
        raw["disabled"] = False
    try:
        return KeyBody.model_validate(raw)
    except ValidationError as exc:
        raise CommandError(validation_error(exc).message) from None


async def keys_create(args: argparse.Namespace) -> int:
    settings = _key_body(args).settings()
    plaintext, record = await _store().create_key(settings.name, settings)
    _show(record, args.json, plaintext)
    return 0


async def keys_list(args: argparse.Namespace) -> int:
    records = await _store().list_keys()
    if args.json:
        now = time.time()
        print(json.dumps({"data": [key_data(r, now) for r in records]}))
        return 0
    for r in records:
        limit = f"{r.usage}/{r.limit} USD" if r.limit is not None else f"{r.usage} USD"
        print(f"{r.hash[:12]}  {r.label}  {r.name}  {limit}{'  (disabled)' if r.disabled else ''}")
    return 0


async def keys_show(args: argparse.Namespace) -> int:
    _show(await _find(_store(), args.hash), args.json)
    return 0


async def _change(args: argparse.Namespace, changes: dict[str, Any]) -> int:
    store = _store()
    record = await store.update_key((await _find(store, args.hash)).hash, changes, time.time())
    if record is None:
        raise CommandError(f"key {args.hash!r} was deleted meanwhile")
    _show(record, args.json)
    return 0


async def keys_update(args: argparse.Namespace) -> int:
    changes = _key_body(args).changes()
    if not changes:
        raise CommandError("nothing to update: give at least one setting")
    return await _change(args, changes)


async def keys_disable(args: argparse.Namespace) -> int:
    return await _change(args, {"disabled": True})


async def keys_delete(args: argparse.Namespace) -> int:
    store = _store()
    record = await _find(store, args.hash)
    await store.delete_key(record.hash)
    print(json.dumps({"deleted": True, "hash": record.hash}) if args.json else f"Deleted key {record.name!r}.")
    return 0


async def usage(args: argparse.Namespace) -> int:
    """Per whole UTC day, or per hour when --since or --until is not a midnight (store/summary.py)."""
    store = _store()
    since = parse_time(args.since) if args.since else 0.0
    until = parse_time(args.until) if args.until else time.time()
    aligned = since % 86400 == 0 and (not args.until or until % 86400 == 0)
    rows = await store.usage(since, until, "day" if aligned else "hour")
    names = {k.hash: k.name for k in await store.list_keys()}
    ordered: list[dict[str, Any]] = [
        {args.by: group, "requests": c.requests, "prompt_tokens": c.prompt_tokens,
         "completion_tokens": c.completion_tokens, "cost": c.cost}
        for group, c in by_group(rows, args.by, names).items()]
    total = sum((r["cost"] for r in ordered), Decimal(0))
    if args.json:
        print(json.dumps({"since": iso(since or None), "until": iso(until), "by": args.by, "total_cost": str(total),
                          "data": [{**r, "cost": str(r["cost"])} for r in ordered]}))
        return 0
    print(f"{args.by:<40} {'requests':>9} {'prompt':>10} {'completion':>11} {'cost (USD)':>14}")
    for r in ordered:
        print(f"{r[args.by]:<40} {r['requests']:>9} {r['prompt_tokens']:>10} {r['completion_tokens']:>11} "
              f"{r['cost']:>14}")
    print(f"{'total':<40} {sum(r['requests'] for r in ordered):>9} {'':>10} {'':>11} {total:>14}")
    return 0


def store_init(args: argparse.Namespace) -> int:
    from lambdarouter.store.dynamodb import boto3_dynamodb_client
    from lambdarouter.store.tables import TABLES, create_tables, table_names

    names = table_names()
    done = create_tables(boto3_dynamodb_client(), names)
    if args.json:
        print(json.dumps({"tables": [{"name": n, "status": s} for n, s in done]}))
        return 0
    for name, status in done:
        print(f"{name}: {status}")
    print("\nPoint the gateway at them with:")
    for table in TABLES:
        print(f"  export {table.env_var}={names[table.logical_id]}")
    return 0


async def store_backfill(args: argparse.Namespace) -> int:
    """Count ledger rows older than the usage aggregates (store/dynamodb_backfill.py); SQLite needs none."""
    from lambdarouter.store.dynamodb import DynamoDBStore

    store = _store()
    counted = await store.backfill() if isinstance(store, DynamoDBStore) else 0
    if args.json:
        print(json.dumps({"counted": counted}))
    else:
        print(f"{counted} ledger rows counted in the usage aggregates and the request log.")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lambdarouter.http.app import create_app
    from lambdarouter.store import shared_store

    settings = Settings.from_env()
    url = f"http://{args.host}:{args.port}/api/v1"
    print(f"lambdarouter serving at {url} (store: {describe(settings)}; upstream client: "
          f"{_serve_transport()})", flush=True)
    if not _run(shared_store().has_keys()):
        print("No keys yet: create one with `lambdarouter keys create --name dev`.", flush=True)
    uvicorn.run(create_app(lifespan=_upstream_client), host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.access_log, http=header_timeout_protocol(args.header_timeout))
    return 0


# The youngest generation's collection threshold while serving (CPython's default: 700 net allocations of
# container objects). Under concurrent load the requests in flight hold a few thousand live objects between them,
# so with 700 the collector ran ~0.4 times per request, scanning objects that reference counting frees anyway a
# moment later; with 7,000 it ran 3 times in 8,000 requests (measured with gc.callbacks, docs/performance.md).
SERVE_GC_THRESHOLD = 7000


@asynccontextmanager
async def _upstream_client(app: Any) -> AsyncIterator[None]:
    """What the server builds before its first request and closes when it stops: the gateway (catalog and
    credentials) is built now, and with everything imported so far moved out of the collector's way
    (`gc.freeze`: the full collections under load scanned ~75,000 long-lived objects each, 40 ms every ~600
    requests); the upstream client's pooled connections are closed at the end (aiohttp reports a session left
    open at exit as "Unclosed client session")."""
    from lambdarouter.providers import transport

    _build_gateway()
    gc.freeze()
    thresholds = gc.get_threshold()
    gc.set_threshold(SERVE_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:  # the process's collector as it was (the lifespan also runs inside tests' processes)
        gc.set_threshold(*thresholds)
        gc.unfreeze()
        await transport.aclose()


def _build_gateway() -> None:
    """The process-wide gateway, as the first request would build it; a failure is left to that request, which
    answers it in its dialect (a 503 for a store that is not configured)."""
    from lambdarouter.http.context import default_gateway

    try:
        default_gateway()
    except Exception as exc:
        print(f"the gateway could not be built yet ({type(exc).__name__}): the first request will try again",
              file=sys.stderr, flush=True)


def _serve_transport() -> str:
    """aiohttp when the `serve` extra installed it: a long-running server under concurrent load is where
    it pays (providers/transport/aiohttp_backend.py); else httpx, as on Lambda."""
    from lambdarouter.providers import transport

    try:
        transport.use_backend("aiohttp")
    except ImportError:
        return "httpx (install the serve extra for aiohttp)"
    return "aiohttp"


def _key_settings(command: argparse.ArgumentParser, creating: bool) -> None:
    command.add_argument("--name", required=creating)
    command.add_argument("--label", help="shown instead of the masked key")
    command.add_argument("--limit", help="USD the key may spend per period" + ("" if creating else "; none clears"))
    command.add_argument("--limit-reset", dest="limit_reset", help="daily | weekly | monthly | none (UTC)")
    command.add_argument("--expires-at", dest="expires_at", help="ISO 8601 time (UTC unless given)")
    command.add_argument("--rate-limit", dest="rate_limit", help="N/1m: N requests per interval (s, m, h)")
    command.add_argument("--allowed-model", dest="allowed_model", action="append",
                         help="a model id or glob (openai/*) the key may use; repeat for more")
    if not creating:
        command.add_argument("--any-model", dest="any_model", action="store_true", help="drop the model list")
        command.add_argument("--enable", action="store_true", help="enable a disabled key")


def _keys_parser(commands: Any) -> None:
    keys = commands.add_parser("keys", help="manage gateway keys").add_subparsers(dest="action", required=True)
    specs: list[tuple[str, str, Any, bool]] = [
        ("create", "create a key (shown once)", keys_create, False),
        ("list", "list keys (never their plaintext)", keys_list, False),
        ("show", "one key, by hash or hash prefix", keys_show, True),
        ("update", "change a key's settings", keys_update, True),
        ("disable", "disable a key", keys_disable, True),
        ("delete", "delete a key (its ledger rows stay)", keys_delete, True),
    ]
    for name, help_text, handler, takes_hash in specs:
        command = keys.add_parser(name, help=help_text)
        if takes_hash:
            command.add_argument("hash")
        if name in ("create", "update"):
            _key_settings(command, creating=name == "create")
        command.add_argument("--json", action="store_true")
        command.set_defaults(handler=handler)


def _seconds(text: str) -> float:
    seconds = float(text)
    if not 0 < seconds < 86400:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0 and below a day, not {text!r}")
    return seconds


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lambdarouter", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the gateway locally")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--log-level", default="info")
    run.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    header_timeout = Settings.from_env().header_timeout or str(DEFAULT_HEADER_TIMEOUT)
    run.add_argument("--header-timeout", type=_seconds, default=header_timeout,
                     help="seconds a connection has to send a request's headers, else 408 and close "
                          f"(LAMBDAROUTER_HEADER_TIMEOUT; {DEFAULT_HEADER_TIMEOUT:g})")
    run.set_defaults(handler=serve)

    _keys_parser(commands)

    report = commands.add_parser("usage", help="requests, tokens and cost over a period")
    report.add_argument("--since", help="ISO 8601 start (inclusive)")
    report.add_argument("--until", help="ISO 8601 end (exclusive)")
    report.add_argument("--by", choices=("key", "model", "provider"), default="key")
    report.add_argument("--json", action="store_true")
    report.set_defaults(handler=usage)

    store = commands.add_parser("store", help="the DynamoDB store").add_subparsers(dest="action", required=True)
    init = store.add_parser("init", help="create the DynamoDB tables (names from LAMBDAROUTER_*_TABLE)")
    init.add_argument("--json", action="store_true")
    init.set_defaults(handler=store_init)
    filling = store.add_parser("backfill", help="count ledger rows written before the usage aggregates existed "
                                                "(DynamoDB; once after upgrading, safe to repeat)")
    filling.add_argument("--json", action="store_true")
    filling.set_defaults(handler=store_backfill)
    return root


def _run(work: Coroutine[Any, Any, T]) -> T:
    """Await the store from a command, on an event loop of its own that is never made the thread's current one
    (`asyncio.run` would leave the thread without one, which an in-process caller may still ask for)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(work)
    finally:
        loop.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        handler = args.handler
        code: int = _run(handler(args)) if inspect.iscoroutinefunction(handler) else handler(args)
    except (CommandError, StoreUnavailable, ValueError, ArithmeticError) as exc:
        print(f"lambdarouter: error: {exc}", file=sys.stderr)
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
