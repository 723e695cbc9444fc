"""The terms of the DSP 2025-1 context, and bringing other JSON-LD spellings back to them.

Messages are read as compact JSON with unprefixed terms. Two other spellings of the same
JSON-LD are cheap to accept and are brought back to that form before validation:

- *prefixed* keys and values: ``dspace:providerPid``, ``odrl:permission``, ``dcat:dataset``,
  ``"@type": "dspace:ContractRequestMessage"``, ``"state": "dspace:REQUESTED"``,
  ``"action": "odrl:use"`` (full IRIs the same);
- *expanded* documents (a top-level array, or an object without ``@context`` whose ``@type``
  is an array; full IRIs as keys, values in arrays and ``{"@value": …}``/``{"@id": …}``
  objects): unwrapped where the DSP context says the term is a single value, kept as lists
  where the context declares a ``@set``. A body with ``@context`` is compact and stays strict.

Only IRIs of terms the DSP context defines are renamed; anything else (``dct:title``, a
profile's own terms) is kept as it came.
"""

from __future__ import annotations

from typing import Any

from connector.dsp.base import DCAT, DCT, DSP_CONTEXT, DSPACE, ODRL, PREFIXES

_DSPACE_TERMS = [
    "filter",
    "code",
    "reason",
    "callbackAddress",
    "providerPid",
    "consumerPid",
    "offer",
    "agreement",
    "timestamp",
    "eventType",
    "state",
    "dataAddress",
    "agreementId",
    "endpointType",
    "endpointProperties",
    "endpoint",
    "name",
    "value",
    "participantId",
    "dataset",
]
_DCAT_TERMS = [
    "service",
    "catalog",
    "dataset",
    "distribution",
    "endpointDescription",
    "endpointURL",
    "accessService",
    "servesDataset",
]
_DCT_TERMS = ["format"]
_ODRL_TERMS = [
    "hasPolicy",
    "profile",
    "target",
    "assignee",
    "assigner",
    "action",
    "permission",
    "prohibition",
    "obligation",
    "duty",
    "constraint",
    "operator",
    "rightOperand",
    "leftOperand",
    "and",
    "or",
    "xone",
    "andSequence",
]
_DSPACE_CLASSES = [
    "CatalogRequestMessage",
    "DatasetRequestMessage",
    "CatalogError",
    "ContractRequestMessage",
    "ContractOfferMessage",
    "ContractAgreementMessage",
    "ContractAgreementVerificationMessage",
    "ContractNegotiationEventMessage",
    "ContractNegotiationTerminationMessage",
    "ContractNegotiation",
    "ContractNegotiationError",
    "TransferRequestMessage",
    "TransferStartMessage",
    "TransferCompletionMessage",
    "TransferTerminationMessage",
    "TransferSuspensionMessage",
    "TransferProcess",
    "TransferError",
    "DataAddress",
    "EndpointProperty",
    "CatalogService",
    "VersionsError",
    "ACCEPTED",
    "FINALIZED",
    "REQUESTED",
    "STARTED",
    "COMPLETED",
    "SUSPENDED",
    "TERMINATED",
    "OFFERED",
    "AGREED",
    "VERIFIED",
]
_DCAT_CLASSES = ["Catalog", "Dataset", "DataService", "Distribution"]
_ODRL_CLASSES = ["Offer", "Agreement", "Policy", "Set", "Permission", "Prohibition", "Duty"]

_TERM_BY_IRI: dict[str, str] = {
    **{DSPACE + t: t for t in (*_DSPACE_TERMS, *_DSPACE_CLASSES)},
    **{DCAT + t: t for t in (*_DCAT_TERMS, *_DCAT_CLASSES)},
    **{DCT + t: t for t in _DCT_TERMS},
    **{ODRL + t: t for t in (*_ODRL_TERMS, *_ODRL_CLASSES)},
}

SET_TERMS = frozenset(
    [
        "filter",
        "reason",
        "permission",
        "prohibition",
        "obligation",
        "duty",
        "constraint",
        "and",
        "or",
        "xone",
        "andSequence",
        "dataset",
        "catalog",
        "service",
        "distribution",
        "hasPolicy",
        "endpointProperties",
        "servesDataset",
    ]
)
"""Terms whose value is a list (``@container: @set``, or an array in the schema)."""

_SET_IRIS = frozenset(
    _iri
    for _iri, _name in _TERM_BY_IRI.items()
    if _name in SET_TERMS and _iri != DSPACE + "dataset"
)
"""The IRIs of list-valued properties (``dspace:dataset`` names one dataset, ``dcat:dataset``
a list)."""

_CLASS_VALUED = frozenset({"@type", "state", "eventType"})
_ODRL_VALUED = frozenset({"action", "operator", "leftOperand"})


def _expand(name: str) -> str:
    prefix, sep, local = name.partition(":")
    if sep and prefix in PREFIXES:
        return PREFIXES[prefix] + local
    return name


def term(key: str) -> str:
    """The DSP term for a key written as a term, ``prefix:term`` or a full IRI."""
    if key.startswith("@") or ":" not in key:
        return key
    return _TERM_BY_IRI.get(_expand(key), key)


def _value(key: str, value: str) -> str:
    if ":" not in value:
        return value
    if key in _CLASS_VALUED:
        return _TERM_BY_IRI.get(_expand(value), value)
    iri = _expand(value)
    return iri[len(ODRL) :] if iri.startswith(ODRL) and len(iri) > len(ODRL) else value


def is_expanded(body: Any) -> bool:
    """Whether a body is expanded JSON-LD: an array, or ``@type`` an array and no ``@context``."""
    if isinstance(body, list):
        return True
    return isinstance(body, dict) and "@context" not in body and isinstance(body.get("@type"), list)


def normalize(body: Any) -> Any:
    """Bring a prefixed or expanded body to compact form with DSP terms (others untouched)."""
    if not is_expanded(body):
        return _compact(body, expanded=False, key="", many=False)
    if isinstance(body, list):
        if len(body) != 1:
            return body
        body = body[0]
    compacted = _compact(body, expanded=True, key="", many=False)
    if isinstance(compacted, dict):
        compacted.setdefault("@context", [DSP_CONTEXT])
    return compacted


def _compact(value: Any, *, expanded: bool, key: str, many: bool) -> Any:
    if isinstance(value, list):
        items = [_compact(item, expanded=expanded, key=key, many=False) for item in value]
        if expanded and not many and len(items) == 1:
            return items[0]
        return items
    if not isinstance(value, dict):
        return value
    if expanded and len(value) == 1:
        if "@value" in value:
            return value["@value"]
        if "@id" in value and key not in {"offer", "agreement", "dataAddress", ""}:
            return value["@id"]
    out: dict[str, Any] = {}
    for raw_key, raw in value.items():
        if raw_key == "@context" or not isinstance(raw_key, str):
            out[raw_key] = raw
            continue
        name = term(raw_key)
        many = _expand(raw_key) in _SET_IRIS if ":" in raw_key else name in SET_TERMS
        item = _compact(raw, expanded=expanded, key=name, many=many)
        if isinstance(item, str) and (name in _CLASS_VALUED or name in _ODRL_VALUED):
            item = _value(name, item)
        out[name] = item
    return out
