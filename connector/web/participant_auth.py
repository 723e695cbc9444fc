"""Authenticating a participant (a DSP or DCP caller) by its self-issued ID token.

The precise reason of a refusal goes to the audit trail (``auth.failed``) and the log; the
caller gets a generic 401 (reason ``invalid_token``), so a probe learns nothing about which
check failed — except when the caller's own DID host could not be reached: that is passing
(the caller's host may be starting), so the answer is 503 and a DSP sender retries instead of
giving its process up.
"""

from __future__ import annotations

import structlog

from connector.audit.vocabulary import EventType, Result
from connector.controlplane.ports import Caller
from connector.errors import ConnectorError, Unauthorized, Unavailable
from connector.web.runtime import Runtime

log = structlog.get_logger("connector.web")


def authenticate_participant(runtime: Runtime, authorization: str | None, surface: str) -> Caller:
    """The caller of a request to ``surface`` (``dsp``, ``dcp``), or a generic ``Unauthorized``."""
    try:
        return runtime.authenticator.authenticate(authorization)
    except Unauthorized as exc:
        raise refusal(runtime, exc, surface) from exc


def refusal(runtime: Runtime, exc: Unauthorized, surface: str) -> ConnectorError:
    """What the caller is told about a failed authentication (``exc``: the precise reason,
    which is logged and audited): 503 when the caller's DID host did not answer, else the
    generic 401. Also for a replay found after the authentication (a deferred one-use check)."""
    log.info("participant_refused", surface=surface, reason=exc.reason, detail=exc.detail)
    if runtime.audit is not None:
        runtime.audit.record(
            EventType.AUTH_FAILED,
            actor="anonymous",
            result=Result.DENIED,
            details={"reason": exc.reason, "surface": surface},
        )
    if exc.reason == "did_unavailable":  # their host did not answer: passing, not a refusal
        return Unavailable(
            "the caller's DID document cannot be fetched now; try again later",
            reason="did_unavailable",
        )
    return Unauthorized("authentication failed", reason="invalid_token")
