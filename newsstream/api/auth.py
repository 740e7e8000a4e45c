"""API keys: writes need the configured write key; reads need a key only when a read key is
configured (then the write key reads too). Keys are compared in constant time."""
from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import HTTPException, Query, Security, status
from fastapi.security import APIKeyHeader
from pydantic import SecretStr

from newsstream.api.context import Context
from newsstream.settings import Settings

API_KEY_HEADER = "X-API-Key"
_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="the write key (or the read key, for reads)")
GivenKey = Annotated[str | None, Security(_header)]


def _configured(key: SecretStr | None) -> bool:
    return key is not None and key.get_secret_value() != ""


def _matches(given: str | None, *keys: SecretStr | None) -> bool:
    if not given:
        return False
    # As bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    return any(hmac.compare_digest(given.encode(), key.get_secret_value().encode()) for key in keys if _configured(key))


def check_write_key(settings: Settings, given: str | None) -> None:
    """Raises the 403 (no write key configured) or 401 (missing or wrong key) of a write; also
    called by `guards.WriteGuard` before the request body is read."""
    key = settings.api_key
    if not _configured(key):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "writes are disabled: this server has no API key; "
                            f"set NEWSSTREAM_API_KEY where the API runs and send it in the {API_KEY_HEADER} header")
    if not _matches(given, key):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"missing or wrong API key: send the write key in the "
                            f"{API_KEY_HEADER} header", headers={"WWW-Authenticate": API_KEY_HEADER})


def require_write_key(context: Context, given: GivenKey) -> None:
    check_write_key(context.settings, given)


def check_operations_key(settings: Settings, given: str | None) -> None:
    """With NEWSSTREAM_API_PROTECT_OPERATIONS, /healthz, /metrics and the docs need the read key or
    the write key (a key that may read); with neither configured they are refused, not left open."""
    if not settings.api_protect_operations:
        return
    if not (_configured(settings.api_read_key) or _configured(settings.api_key)):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "operations are protected (NEWSSTREAM_API_PROTECT_OPERATIONS) "
                            "but this server has no key: set NEWSSTREAM_API_READ_KEY where the API runs")
    if not _matches(given, settings.api_read_key, settings.api_key):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"this server needs an API key for operations and docs: "
                            f"send the read key in the {API_KEY_HEADER} header (or as the key parameter)",
                            headers={"WWW-Authenticate": API_KEY_HEADER})


def _check_read(context: Context, given: str | None) -> None:
    settings = context.settings
    if _configured(settings.api_read_key) and not _matches(given, settings.api_read_key, settings.api_key):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, f"this server needs an API key for reads: send the read "
                            f"key in the {API_KEY_HEADER} header", headers={"WWW-Authenticate": API_KEY_HEADER})


def require_read_key(context: Context, given: GivenKey) -> None:
    _check_read(context, given)


def require_read_key_or_parameter(
    context: Context, given: GivenKey,
    key: Annotated[str | None, Query(description="the read key, for clients that cannot send headers "
                                                 "(EventSource)")] = None,
) -> None:
    _check_read(context, given or key)
