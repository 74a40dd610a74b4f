"""Error pages for people, JSON errors for API clients; never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from vendor_portal.api.errors import ApiError
from vendor_portal.extensions import db

logger = logging.getLogger(__name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def api_error(error: ApiError):
        return error.response()

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return render_template(
            "errors/error.html",
            status=400,
            title="This form has expired",
            message=(
                "The page was open too long or was sent from elsewhere. "
                "Go back, reload it and try again."
            ),
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        status = error.code or 500
        if _wants_json():
            return ApiError(
                status, CODES.get(status, "error"), error.description or error.name
            ).response()
        titles = {403: "You do not have access to this page", 404: "Page not found"}
        return render_template(
            "errors/error.html",
            status=status,
            title=titles.get(status, error.name),
            message=error.description,
        ), status

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        db.session.rollback()
        logger.exception("Unhandled error on %s %s", request.method, request.path)
        if _wants_json():
            return ApiError(
                500, "internal_error", "Something went wrong on our side; it has been logged."
            ).response()
        return render_template(
            "errors/error.html",
            status=500,
            title="Something went wrong",
            message="The error has been logged. Nothing was saved; please try again.",
        ), InternalServerError.code
