"""`lambdarouter serve | keys ...`: the local gateway and its key management, on the same store."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from lambdarouter.config import Settings
from lambdarouter.store import KeyRecord, open_store


def _key_json(record: KeyRecord) -> dict[str, object]:
    created = datetime.fromtimestamp(record.created_at, UTC).isoformat()
    return {"hash": record.hash, "name": record.name, "label": record.label, "disabled": record.disabled,
            "created_at": created}


def keys_create(args: argparse.Namespace) -> int:
    store = open_store(Settings.from_env().db_path)
    plaintext, record = store.create_key(args.name)
    if args.json:
        print(json.dumps({"key": plaintext, **_key_json(record)}))
    else:
        print(f"Created key {record.name!r} ({record.label}). It is shown only once:\n\n  {plaintext}\n")
    return 0


def keys_list(args: argparse.Namespace) -> int:
    records = open_store(Settings.from_env().db_path).list_keys()
    if args.json:
        print(json.dumps([_key_json(r) for r in records]))
    else:
        for r in records:
            print(f"{r.hash[:12]}  {r.label}  {r.name}{'  (disabled)' if r.disabled else ''}")
    return 0


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from lambdarouter.http.app import create_app

    settings = Settings.from_env()
    store = open_store(settings.db_path)
    url = f"http://{args.host}:{args.port}/api/v1"
    print(f"lambdarouter serving at {url} (store: {settings.db_path})", flush=True)
    if not store.has_keys():
        print("No keys yet: create one with `lambdarouter keys create --name dev`.", flush=True)
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level,
                access_log=args.access_log)
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="lambdarouter", description=__doc__)
    commands = root.add_subparsers(dest="command", required=True)

    run = commands.add_parser("serve", help="run the gateway locally")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8080)
    run.add_argument("--log-level", default="info")
    run.add_argument("--access-log", action=argparse.BooleanOptionalAction, default=True)
    run.set_defaults(handler=serve)

    keys = commands.add_parser("keys", help="manage gateway keys").add_subparsers(dest="action", required=True)
    create = keys.add_parser("create", help="create a key (shown once)")
    create.add_argument("--name", required=True)
    create.add_argument("--json", action="store_true")
    create.set_defaults(handler=keys_create)
    listing = keys.add_parser("list", help="list keys (never their plaintext)")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=keys_list)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    code: int = args.handler(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
