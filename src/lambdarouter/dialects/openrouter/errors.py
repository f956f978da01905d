"""The error envelope: HTTP status == error.code (OpenRouter's shape)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ErrorDetail(BaseModel):
    code: int
    message: str
    type: str
    metadata: dict[str, Any] | None = None


class ErrorResponse(BaseModel):
    error: ErrorDetail
