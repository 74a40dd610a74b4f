from __future__ import annotations

from typing import Any

from flask import Response, jsonify


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", ...}} with an HTTP status."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> Response:
        body = {"error": {"code": self.code, "message": self.message, **self.extra}}
        resp = jsonify(body)
        resp.status_code = self.status
        if self.status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="vendor_portal"'
        return resp


def validation_error(fields: dict[str, str]) -> ApiError:
    summary = "; ".join(f"{k}: {v}" for k, v in sorted(fields.items()))
    return ApiError(422, "validation_error", f"Invalid input. {summary}", fields=fields)
