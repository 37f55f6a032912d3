"""Every error the simulator raises, and the one table that maps them to HTTP.

    SimulatorError
    ├── ConfigError (also ValueError)       a profile or config patch that does not validate
    └── ApiError                            answered to a client; carries `code` and `message`
        ├── BadRequest          400         malformed body, wrong type, missing field, unknown query value
        │   └── RuleViolation   400         a business or status rule (OMS003, CHK0034, ...)
        ├── Unauthorized        401         credentials configured and missing
        ├── Forbidden           403         wrong credentials; control API from a non-loopback client
        ├── NotFound            404         unknown order, change, route
        ├── MethodNotAllowed    405
        ├── Conflict            409         (reserved: simulator-level conflicts such as an existing order id)
        ├── PayloadTooLarge     413         body over `limits.max_body_bytes`
        └── InjectedFault       5xx         only ever injected on purpose

The body shape depends on the service that answers (see `simulator/web/_errors.py`): Orders and the control
API answer `{"error": {"code", "message", "exception"}}`; Accounting answers `{"type", "title", "code",
"description"}`.

Imports: stdlib only.
"""

from __future__ import annotations

__all__ = [
    "HTTP_STATUS",
    "ApiError",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "InjectedFault",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "RuleViolation",
    "SimulatorError",
    "Unauthorized",
    "http_status",
]


class SimulatorError(Exception):
    """Root of every error raised by `simulator`."""


class ConfigError(SimulatorError, ValueError):
    """A profile or configuration patch is invalid; the message says where and what was expected."""


class ApiError(SimulatorError):
    """An error answered to an API client."""

    default_code = "ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code


class BadRequest(ApiError):
    default_code = "BAD-REQUEST"


class RuleViolation(BadRequest):
    """A documented business or status rule refused the request.

    `documented` is the platform's own text for the rule (a Change's `cancellationData.reason` shows it alone);
    `message` may say more about what exactly was wrong. Without `documented`, the message is the documented text.
    """

    default_code = "OMS003"

    def __init__(self, message: str, *, code: str | None = None, documented: str | None = None) -> None:
        super().__init__(message, code=code)
        self.documented = documented or message


class Unauthorized(ApiError):
    default_code = "UNAUTHORIZED"


class Forbidden(ApiError):
    default_code = "FORBIDDEN"


class NotFound(ApiError):
    default_code = "OMS007"


class MethodNotAllowed(ApiError):
    default_code = "METHOD-NOT-ALLOWED"


class Conflict(ApiError):
    default_code = "CONFLICT"


class PayloadTooLarge(ApiError):
    default_code = "PAYLOAD-TOO-LARGE"


class InjectedFault(ApiError):
    """A 5xx the configuration asked for. Never raised for bad input."""

    default_code = "INJECTED-FAULT"

    def __init__(self, message: str, *, status: int = 503, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.status = status


HTTP_STATUS: dict[type[ApiError], int] = {
    BadRequest: 400,
    RuleViolation: 400,
    Unauthorized: 401,
    Forbidden: 403,
    NotFound: 404,
    MethodNotAllowed: 405,
    Conflict: 409,
    PayloadTooLarge: 413,
    InjectedFault: 503,
}
"""The one table from error class to HTTP status (InjectedFault carries its own status)."""


def http_status(exc: BaseException) -> int:
    """The status an exception is answered with: the table above, an injected fault's own, 500 for anything else."""
    if isinstance(exc, InjectedFault):
        return exc.status
    if isinstance(exc, ApiError):
        return HTTP_STATUS.get(type(exc), 400)
    return 500
