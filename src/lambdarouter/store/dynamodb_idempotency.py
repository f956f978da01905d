"""Idempotency records on DynamoDB through Powertools' `DynamoDBPersistenceLayer`.

Powertools' `@idempotent` decorators wrap synchronous handlers and functions; the chat route is an async
Starlette endpoint that may also answer 402/429 or stream, so the decorator does not fit it. The
persistence layer underneath does (its `save_inprogress` / `get_record` / `save_success` /
`delete_record` are the documented extension points), so this class drives it directly: the records,
the conditional writes, the payload validation and the table layout are Powertools' own. The same
semantics on SQLite live in store/sqlite.py; tests/test_store_contract.py runs both.

The layer needs a botocore client (the store's own calls use lambdarouter/aws): built with the layer, by the
first request that sends Idempotency-Key. Its failures leave as `StoreUnavailable`, as the store's do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from lambdarouter.store import IDEMPOTENCY_TTL
from lambdarouter.store.codec import decode_response, encode_response
from lambdarouter.store.errors import StoreUnavailable
from lambdarouter.store.model import IdempotencyClaim, StoredResponse

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

KEY_PREFIX = "lambdarouter#chat-completions"


@contextmanager
def botocore_faults() -> Iterator[None]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise StoreUnavailable(f"idempotency table: {type(exc).__name__}") from exc


class PowertoolsIdempotency:
    def __init__(self, table: str | None, client: Callable[[], Any]) -> None:
        self.table = table
        self._client = client
        self._layer: DynamoDBPersistenceLayer | None = None

    def layer(self) -> DynamoDBPersistenceLayer:
        """Built on first use: Powertools' import is only paid by requests that send Idempotency-Key."""
        if self._layer is None:
            if not self.table:
                raise RuntimeError("LAMBDAROUTER_IDEMPOTENCY_TABLE is not set: Idempotency-Key needs it")
            from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

            layer = DynamoDBPersistenceLayer(table_name=self.table, boto3_client=self._client())
            # The record key is the caller's key hash and its Idempotency-Key (two keys never share
            # records); the body hash is what a reuse with a different body is caught by.
            layer.configure(IdempotencyConfig(event_key_jmespath="[scope, key]", payload_validation_jmespath="body",
                                              expires_after_seconds=IDEMPOTENCY_TTL,
                                              raise_on_no_idempotency_key=True),
                            key_prefix=KEY_PREFIX)
            self._layer = layer
        return self._layer

    def claim(self, scope: str, key: str, body_hash: str, in_progress_ttl: float) -> IdempotencyClaim:
        layer = self.layer()
        with botocore_faults():
            return self._claim(layer, scope, key, body_hash, in_progress_ttl)

    def _claim(self, layer: DynamoDBPersistenceLayer, scope: str, key: str, body_hash: str,
               in_progress_ttl: float) -> IdempotencyClaim:
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyItemAlreadyExistsError,
            IdempotencyItemNotFoundError,
            IdempotencyValidationError,
        )
        from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS

        data = {"scope": scope, "key": key, "body": body_hash}
        for _ in range(3):
            try:
                # The in-progress claim expires on its own, so a function killed mid-request frees the key.
                layer.save_inprogress(data, remaining_time_in_millis=int(in_progress_ttl * 1000))
                return IdempotencyClaim("started")
            except IdempotencyValidationError:
                return IdempotencyClaim("mismatch")  # the record exists with another body's hash
            except IdempotencyItemAlreadyExistsError as exc:
                record = exc.old_data_record  # the existing record (DynamoDB returned it with the refusal)
            try:
                record = record or layer.get_record(data)
            except IdempotencyValidationError:
                return IdempotencyClaim("mismatch")
            except IdempotencyItemNotFoundError:
                continue  # deleted between the two calls: claim again
            if record is not None and record.status == STATUS_CONSTANTS["COMPLETED"]:
                return IdempotencyClaim("completed", decode_response(record.response_json_as_dict() or {}))
            return IdempotencyClaim("in_progress")
        return IdempotencyClaim("in_progress")

    def complete(self, scope: str, key: str, body_hash: str, response: StoredResponse) -> None:
        layer = self.layer()
        with botocore_faults():
            layer.save_success({"scope": scope, "key": key, "body": body_hash}, result=encode_response(response))

    def release(self, scope: str, key: str, body_hash: str) -> None:
        layer = self.layer()
        with botocore_faults():
            layer.delete_record({"scope": scope, "key": key, "body": body_hash},
                                exception=RuntimeError("request failed; claim released"))
