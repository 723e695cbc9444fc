"""W3C VC API endpoints for interop: issue (management key), verify credentials/presentations.

Request and response shapes follow the VC API: ``{"credential": …, "options": …}`` →
``{"verifiableCredential": …}``; verifiers answer 200 ``{"verified": true, "checks": […]}`` for
valid input and 400 with a problem description (``verified: false``) for invalid input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from connector.clock import utc_isoformat
from connector.credentials import data_integrity, jose
from connector.credentials.jsonld import parse_json
from connector.credentials.verifier import Verified, issuer_of
from connector.errors import ConnectorError, Invalid
from connector.web.problems import problem
from connector.web.runtime import Runtime, get_runtime
from connector.web.security import require_management_key

router = APIRouter(prefix="/vc-api", tags=["vc-api"])

VC_V2 = "https://www.w3.org/ns/credentials/v2"


async def _body(request: Request) -> dict[str, Any]:
    value = parse_json(await request.body())
    if not isinstance(value, dict):
        raise Invalid("request body must be a JSON object", reason="malformed_json")
    return value


def _options(body: Mapping[str, Any]) -> dict[str, Any]:
    options = body.get("options", {})
    if not isinstance(options, dict):
        raise Invalid("options must be an object", reason="invalid")
    return options


@router.post(
    "/credentials/issue",
    status_code=201,
    dependencies=[Depends(require_management_key)],
)
async def issue(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> JSONResponse:
    """Sign a credential as this participant: Data Integrity (default) or ``vc+jwt``."""
    body = await _body(request)
    credential = body.get("credential")
    if not isinstance(credential, dict):
        raise Invalid("'credential' must be a JSON object", reason="invalid")
    options = _options(body)
    credential = dict(credential)
    if "issuer" not in credential:
        credential["issuer"] = runtime.did
    elif issuer_of(credential) != runtime.did:
        raise Invalid(f"issuer must be this participant ({runtime.did})", reason="issuer_mismatch")
    now = runtime.clock.now()
    if credential.get("@context", [None])[0] == VC_V2 and "validFrom" not in credential:
        credential["validFrom"] = utc_isoformat(now)
    fmt = options.get("format", options.get("proofFormat", "ldp_vc"))
    if fmt in {"vc+jwt", "jwt_vc", "application/vc+jwt"}:
        token = jose.issue_vc_jwt(
            credential, key=runtime.keyset.p256, method_id=runtime.keyset.method_id("p256")
        )
        envelope = jose.envelope(token)
        return JSONResponse({"verifiableCredential": envelope}, status_code=201)
    if fmt not in {"ldp_vc", "DataIntegrityProof", "ldp"}:
        raise Invalid(f"unsupported format {fmt!r}", reason="unsupported_format")
    suite = options.get("cryptosuite", data_integrity.EDDSA)
    if suite == data_integrity.EDDSA:
        key: Any = runtime.keyset.ed25519
        method = runtime.keyset.method_id("ed25519", multikey=True)
    elif suite == data_integrity.ECDSA:
        key = runtime.keyset.p256
        method = runtime.keyset.method_id("p256", multikey=True)
    else:
        raise Invalid(f"unsupported cryptosuite {suite!r}", reason="unknown_cryptosuite")
    signed = data_integrity.sign(
        credential,
        key=key,
        verification_method=method,
        created=now,
        loader=runtime.loader,
        cryptosuite=suite,
    )
    return JSONResponse({"verifiableCredential": signed}, status_code=201)


def _verified_body(result: Verified) -> dict[str, Any]:
    body: dict[str, Any] = {
        "verified": True,
        "checks": list(result.checks),
        "warnings": [],
        "errors": [],
        "issuer": result.issuer,
        "verificationMethod": result.method_id,
    }
    if result.credentials:
        body["credentialResults"] = [
            {"verified": True, "issuer": c.issuer, "checks": list(c.checks)}
            for c in result.credentials
        ]
    return body


def _failure(exc: ConnectorError) -> JSONResponse:
    return problem(
        400,
        "Verification failed",
        exc.detail,
        exc.reason,
        verified=False,
        errors=[{"reason": exc.reason, "detail": exc.detail}],
    )


def _jwt_or_document(value: Any, media_type: str) -> Mapping[str, Any] | str:
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        identifier = value.get("id")
        if isinstance(identifier, str) and identifier.startswith(f"data:{media_type},"):
            return identifier.split(",", 1)[1]
        return value
    raise Invalid("expected a JSON object or a compact JWT", reason="invalid")


@router.post("/credentials/verify")
async def verify_credential(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> JSONResponse:
    """Verify a credential (JSON-LD with proof, or an enveloped/compact ``vc+jwt``)."""
    try:
        body = await _body(request)
        item = _jwt_or_document(body.get("verifiableCredential"), "application/vc+jwt")
        result = runtime.verifier(shapes=bool(_options(body).get("shapes"))).verify_credential(item)
    except ConnectorError as exc:
        return _failure(exc)
    return JSONResponse(_verified_body(result))


@router.post("/presentations/verify")
async def verify_presentation(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> JSONResponse:
    """Verify a presentation (JSON-LD with proof, or an enveloped/compact ``vp+jwt``)."""
    try:
        body = await _body(request)
        options = _options(body)
        item = _jwt_or_document(body.get("verifiablePresentation"), "application/vp+jwt")
        domain = options.get("domain")
        challenge = options.get("challenge")
        result = runtime.verifier().verify_presentation(
            item,
            audience=domain if isinstance(domain, str) else runtime.settings.base_url,
            nonce=challenge if isinstance(challenge, str) else None,
        )
    except ConnectorError as exc:
        return _failure(exc)
    return JSONResponse(_verified_body(result))
