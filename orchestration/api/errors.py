"""Lago's error bodies (lago-api `ApiErrors`, `ApiResponses`): `status`, `error`, and for most
errors `code` and `error_details`."""

from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    """JSON through orjson: about 5x faster than the standard library on event bodies."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


class ApiError(Exception):
    """An error that becomes a Lago error response."""

    def __init__(self, status: int, body: dict) -> None:
        super().__init__(body.get("error"))
        self.status = status
        self.body = body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status)


def bad_request(message: str) -> ApiError:
    return ApiError(400, {"status": 400, "error": f"BadRequest: {message}"})


def unauthorized() -> ApiError:
    return ApiError(401, {"status": 401, "error": "Unauthorized"})


def not_found(resource: str) -> ApiError:
    return ApiError(404, {"status": 404, "error": "Not Found", "code": f"{resource}_not_found"})


def payload_too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        {
            "status": 413,
            "error": "Payload Too Large",
            "code": "payload_too_large",
            "error_details": {"body": [f"larger_than_{limit}_bytes"]},
        },
    )


def validation_errors(details: dict) -> ApiError:
    return ApiError(
        422,
        {
            "status": 422,
            "error": "Unprocessable Entity",
            "code": "validation_errors",
            "error_details": details,
        },
    )
