"""Request parsing and validation shared by the API's handlers.

The JSON body under Lago's envelope key (read up to the size limit), the query's filters, dates,
integers and Lago's pagination, and the base URL links are built on. Every refusal is an
`errors.ApiError`, which the router turns into Lago's error response.
"""

from datetime import date
from typing import Any, overload

import orjson
from starlette.requests import Request

from orchestration.api import errors


async def read_body(request: Request, envelope: str, limit: int) -> dict:
    """The request's JSON object, read up to `limit` bytes; Lago's `envelope` key inside."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise errors.payload_too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.payload_too_large(limit)
        chunks.append(chunk)
    try:
        parsed = orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as error:
        raise errors.bad_request(f"malformed JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise errors.bad_request("the body must be a JSON object")
    unknown = sorted(set(parsed) - {envelope})
    if unknown:
        raise errors.validation_errors({key: ["unknown_field"] for key in unknown})
    if envelope not in parsed or parsed[envelope] in (None, "", [], {}):
        raise errors.bad_request(f"param is missing or the value is empty: {envelope}")
    return parsed


def require_object(value: object, name: str) -> dict:
    """`value` when it is a JSON object, else Lago's `invalid_type` for `name`."""
    if not isinstance(value, dict):
        raise errors.validation_errors({name: ["invalid_type"]})
    return value


def base_url(request: Request) -> str:
    """The server's URL as the client reached it, without a trailing slash."""
    return str(request.base_url).rstrip("/")


def check_filters(query, allowed: frozenset[str]) -> None:
    """Refuse query parameters outside `allowed` (`not_supported`)."""
    unsupported = sorted(set(query.keys()) - allowed)
    if unsupported:
        raise errors.validation_errors({key: ["not_supported"] for key in unsupported})


def matches(row: dict, query, columns: tuple[str, ...]) -> bool:
    """Whether the row equals every one of `columns` given in the query."""
    return all(query.get(c) in (None, row.get(c)) for c in columns)


def query_date(query, name: str) -> date | None:
    """The query's ISO date `name`, or None when absent (`invalid_date` when malformed)."""
    value = query.get(name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise errors.validation_errors({name: ["invalid_date"]}) from None


def in_dates(value: date | None, query) -> bool:
    """Whether `value` lies within the query's `issuing_date_from` / `issuing_date_to`."""
    low, high = query_date(query, "issuing_date_from"), query_date(query, "issuing_date_to")
    if value is None:
        return low is None and high is None
    return (low is None or value >= low) and (high is None or value <= high)


@overload
def query_integer(query: Any, name: str, default: int, minimum: int = 0) -> int: ...
@overload
def query_integer(query: Any, name: str, default: None = None, minimum: int = 0) -> int | None: ...
def query_integer(query, name: str, default: int | None = None, minimum: int = 0) -> int | None:
    """The query's integer `name` (at least `minimum`), or `default` when absent."""
    value = query.get(name)
    if value is None:
        return default
    if not value.lstrip("-").isdigit() or int(value) < minimum:
        raise errors.validation_errors({name: ["invalid_value"]})
    return int(value)


def paginate(rows: list, query) -> tuple[list, dict]:
    """Lago's page / per_page (default 100) and its `meta` block."""
    page = query_integer(query, "page", 1, minimum=1)
    per_page = query_integer(query, "per_page", 100, minimum=1)
    total = len(rows)
    if not total:
        meta = {"current_page": 0, "next_page": None, "prev_page": None, "total_pages": 0}
        return [], {**meta, "total_count": 0}
    pages = -(-total // per_page)
    chunk = rows[(page - 1) * per_page : page * per_page]
    meta = {
        "current_page": page,
        "next_page": page + 1 if page < pages else None,
        "prev_page": page - 1 if page > 1 else None,
        "total_pages": pages,
        "total_count": total,
    }
    return chunk, meta
