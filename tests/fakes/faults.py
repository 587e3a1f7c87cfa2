"""Faults the fake platforms can inject into their next matching request."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# Kinds of fault, shared by both fakes.
RATE_LIMIT = "rate_limit"  # 429; with reset headers unless reset_after is None
SERVER_ERROR = "server_error"  # 5xx
TIMEOUT = "timeout"  # requests' ReadTimeout, nothing done
CONNECTION = "connection"  # requests' ConnectionError, nothing done
MALFORMED = "malformed"  # 200 with a truncated JSON body
UNAUTHORIZED = "unauthorized"  # 401
UNAUTHORIZED_BARE = "unauthorized_bare"  # Reddit: 401 without www-authenticate (prawcore raises KeyError)
FORBIDDEN = "forbidden"  # 403
EMPTY = "empty"  # 200, a page with nothing in it
LOST_ACK = "lost_ack"  # the platform does the work, then the answer is lost (ReadTimeout)
RATELIMIT_ANSWER = "ratelimit_answer"  # Reddit: 200 {"json": {"errors": [["RATELIMIT", ...]]}}


@dataclass(frozen=True)
class Fault:
    kind: str
    endpoint: str | None = None  # only requests to this endpoint name (None: any)
    status: int = 503  # for SERVER_ERROR
    reset_after: timedelta | None = timedelta(minutes=15)  # for RATE_LIMIT; None: no reset header
    body_shape: str = "errors"  # X 429 bodies: "errors" (code 88) or "problem" (RFC 7807)
    wait: str = "9 minutes"  # RATELIMIT_ANSWER: "Take a break for <wait> before trying again."


def rate_limit(*, reset_after: timedelta | None = timedelta(minutes=15), endpoint: str | None = None,
               body_shape: str = "errors") -> Fault:
    return Fault(RATE_LIMIT, endpoint=endpoint, reset_after=reset_after, body_shape=body_shape)


def server_error(status: int = 503, *, endpoint: str | None = None) -> Fault:
    return Fault(SERVER_ERROR, endpoint=endpoint, status=status)


class FaultQueue:
    """Faults waiting for their request, first in first out."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def add(self, fault: Fault | str, *, times: int = 1, endpoint: str | None = None) -> None:
        if isinstance(fault, str):
            fault = Fault(fault, endpoint=endpoint)
        elif endpoint is not None:
            fault = Fault(**{**fault.__dict__, "endpoint": endpoint})
        self._faults.extend([fault] * times)

    def take(self, endpoint: str) -> Fault | None:
        for i, fault in enumerate(self._faults):
            if fault.endpoint is None or fault.endpoint == endpoint:
                return self._faults.pop(i)
        return None

    def clear(self) -> None:
        self._faults.clear()

    def __len__(self) -> int:
        return len(self._faults)
