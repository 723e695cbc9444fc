"""Pinned JSON-LD contexts for policies: ODRL 2.2 and the Dataspace Protocol 2025-1.

The engine never fetches a context. The three documents below are written here (generated from
:mod:`connector.policy.vocabulary`), and any other context URL is refused with
:class:`~connector.errors.UnknownContext`. A caller may pass its own pinned loader (for example the
credentials layer's loader) as a :data:`ContextLoader`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from connector.errors import Invalid, UnknownContext
from connector.policy.terms import CC, ODRL
from connector.policy.vocabulary import (
    LOGICAL_OPERATORS,
    ODRL_ACTIONS,
    ODRL_LEFT_OPERANDS,
    OPERATORS,
)

ContextLoader = Callable[[str], Mapping[str, Any]]
"""Returns the JSON document (with an ``@context`` member) pinned for a context URL."""

ODRL_CONTEXT_URL: Final = "http://www.w3.org/ns/odrl.jsonld"
DSP_CONTEXT_URL: Final = "https://w3id.org/dspace/2025/1/context.jsonld"
DSP_ODRL_PROFILE_URL: Final = "https://w3id.org/dspace/2025/1/odrl-profile.jsonld"

_ID = {"@type": "@id"}
_VOCAB = {"@type": "@vocab"}


def _odrl_context() -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "odrl": str(ODRL),
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
        "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
        "owl": "http://www.w3.org/2002/07/owl#",
        "skos": "http://www.w3.org/2004/02/skos/core#",
        "dct": "http://purl.org/dc/terms/",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "vcard": "http://www.w3.org/2006/vcard/ns#",
        "cc": str(CC),
        "uid": "@id",
        "type": "@type",
    }
    classes = [
        "Policy",
        "Set",
        "Offer",
        "Agreement",
        "Assertion",
        "Privacy",
        "Request",
        "Ticket",
        "Rule",
        "Permission",
        "Prohibition",
        "Duty",
        "Asset",
        "AssetCollection",
        "Party",
        "PartyCollection",
        "Action",
        "Constraint",
        "LogicalConstraint",
        "Operator",
        "LeftOperand",
        "RightOperand",
        "ConflictTerm",
    ]
    for name in classes:
        ctx[name] = f"odrl:{name}"
    id_props = [
        "profile",
        "inheritFrom",
        "permission",
        "prohibition",
        "obligation",
        "duty",
        "remedy",
        "consequence",
        "target",
        "output",
        "assignee",
        "assigner",
        "attributedParty",
        "consentingParty",
        "informedParty",
        "trackingParty",
        "compensatedParty",
        "contractingParty",
        "partOf",
        "source",
        "hasPolicy",
        "refinement",
        "constraint",
        "rightOperandReference",
        "unit",
        "includedIn",
        "implies",
    ]
    for name in id_props:
        ctx[name] = {"@type": "@id", "@id": f"odrl:{name}"}
    for name in ("action", "leftOperand", "operator", "conflict"):
        ctx[name] = {"@type": "@vocab", "@id": f"odrl:{name}"}
    ctx["dataType"] = {"@type": "@vocab", "@id": "odrl:dataType"}
    ctx["rightOperand"] = "odrl:rightOperand"
    ctx["status"] = "odrl:status"
    for name in ("perm", "prohibit", "invalid"):
        ctx[name] = f"odrl:{name}"
    for term in LOGICAL_OPERATORS:
        name = term[len(ODRL) :]
        ctx[name] = {"@type": "@id", "@id": f"odrl:{name}"}
    for term in (*ODRL_ACTIONS, *ODRL_LEFT_OPERANDS, *OPERATORS):
        if term.startswith(str(ODRL)):
            ctx[term[len(ODRL) :]] = f"odrl:{term[len(ODRL) :]}"
    return ctx


def _dsp_odrl_profile() -> dict[str, Any]:
    ctx: dict[str, Any] = {"odrl": str(ODRL)}
    for name in [
        "Policy",
        "Rule",
        "Agreement",
        "Assertion",
        "Offer",
        "Set",
        "Asset",
        "Action",
        "Permission",
    ]:
        ctx[name] = f"odrl:{name}"
    for name in ["Prohibition", "Duty", "Constraint", "Operator", "RightOperand", "LeftOperand"]:
        ctx[name] = f"odrl:{name}"
    for name in ("profile", "hasPolicy", "target", "assignee", "assigner"):
        ctx[name] = {"@type": "@id", "@id": f"odrl:{name}"}
    for name in ("permission", "prohibition", "obligation", "duty", "constraint"):
        ctx[name] = {"@type": "@id", "@id": f"odrl:{name}", "@container": "@set"}
    for name in ("action", "operator", "leftOperand"):
        ctx[name] = {"@type": "@vocab", "@id": f"odrl:{name}"}
    ctx["rightOperand"] = "odrl:rightOperand"
    for name in ("prohibit", "use", *(o[len(ODRL) :] for o in OPERATORS)):
        ctx[name] = f"odrl:{name}"
    for term in LOGICAL_OPERATORS:
        ctx[term[len(ODRL) :]] = f"odrl:{term[len(ODRL) :]}"
    return ctx


def _scoped(terms: Mapping[str, Any], *, odrl: bool = False) -> dict[str, Any]:
    inner: dict[str, Any] = {"@version": 1.1, "@protected": True}
    if odrl:
        inner["@import"] = DSP_ODRL_PROFILE_URL
        inner["@propagate"] = True
    inner.update(terms)
    return inner


def _pid(name: str) -> dict[str, str]:
    return {"@type": "@id", "@id": f"dspace:{name}"}


def _dsp_context() -> dict[str, Any]:
    reason = {"@id": "dspace:reason", "@container": "@set"}
    pids = {"providerPid": _pid("providerPid"), "consumerPid": _pid("consumerPid")}
    error = {"code": "dspace:code", "reason": reason}
    ctx: dict[str, Any] = {
        "@version": 1.1,
        "@protected": True,
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "dct": "http://purl.org/dc/terms/",
        "dcat": "http://www.w3.org/ns/dcat#",
        "odrl": str(ODRL),
        "dspace": "https://w3id.org/dspace/2025/1/",
    }
    negotiation = {**pids, "callbackAddress": "dspace:callbackAddress", "offer": _pid("offer")}

    def typed(name: str, iri: str, terms: Mapping[str, Any], *, odrl: bool = False) -> None:
        ctx[name] = {"@id": iri, "@context": _scoped(terms, odrl=odrl)}

    typed("DatasetRequestMessage", "dspace:DatasetRequestMessage", {"dataset": "dspace:dataset"})
    typed(
        "CatalogRequestMessage",
        "dspace:CatalogRequestMessage",
        {"filter": {"@id": "dspace:filter", "@container": "@set"}},
    )
    typed("CatalogError", "dspace:CatalogError", error)
    typed("ContractRequestMessage", "dspace:ContractRequestMessage", negotiation, odrl=True)
    typed("ContractOfferMessage", "dspace:ContractOfferMessage", negotiation, odrl=True)
    typed(
        "ContractAgreementMessage",
        "dspace:ContractAgreementMessage",
        {
            **pids,
            "agreement": {"@id": "dspace:agreement", "@type": "@id"},
            "timestamp": "dspace:timestamp",
        },
        odrl=True,
    )
    typed(
        "ContractAgreementVerificationMessage", "dspace:ContractAgreementVerificationMessage", pids
    )
    typed(
        "ContractNegotiationEventMessage",
        "dspace:ContractNegotiationEventMessage",
        {**pids, "eventType": {"@type": "@vocab", "@id": "dspace:eventType"}},
    )
    for name in ("ContractNegotiationTerminationMessage", "ContractNegotiationError"):
        typed(name, f"dspace:{name}", {**error, **pids})
    state = {"@type": "@vocab", "@id": "dspace:state"}
    typed("ContractNegotiation", "dspace:ContractNegotiation", {**pids, "state": state})
    typed("TransferProcess", "dspace:TransferProcess", {**pids, "state": state})
    for name in ("TransferTerminationMessage", "TransferSuspensionMessage", "TransferError"):
        typed(name, f"dspace:{name}", {**error, **pids})
    typed(
        "TransferRequestMessage",
        "dspace:TransferRequestMessage",
        {
            "callbackAddress": "dspace:callbackAddress",
            "dataAddress": "dspace:dataAddress",
            "consumerPid": _pid("consumerPid"),
            "format": {"@type": "@vocab", "@id": "dct:format"},
            "agreementId": _pid("agreementId"),
        },
    )
    typed(
        "TransferStartMessage",
        "dspace:TransferStartMessage",
        {**pids, "dataAddress": "dspace:dataAddress"},
    )
    typed("TransferCompletionMessage", "dspace:TransferCompletionMessage", pids)
    typed("VersionsError", "dspace:VersionsError", error)
    typed(
        "DataAddress",
        "dspace:DataAddress",
        {
            "endpointType": {"@type": "@vocab", "@id": "dspace:endpointType"},
            "endpointProperties": {"@id": "dspace:endpointProperties", "@container": "@set"},
            "endpoint": "dspace:endpoint",
        },
    )
    typed(
        "EndpointProperty",
        "dspace:EndpointProperty",
        {"name": "dspace:name", "value": "dspace:value"},
    )
    dcat_set = {"@container": "@set"}
    typed(
        "Catalog",
        "dcat:Catalog",
        {
            "service": {"@id": "dcat:service", **dcat_set},
            "participantId": _pid("participantId"),
            "catalog": {"@id": "dcat:catalog", **dcat_set},
            "dataset": {"@id": "dcat:dataset", **dcat_set},
            "distribution": {"@id": "dcat:distribution", **dcat_set},
        },
    )
    typed(
        "Dataset",
        "dcat:Dataset",
        {
            "distribution": {"@id": "dcat:distribution", **dcat_set},
            "hasPolicy": {"@id": "odrl:hasPolicy", **dcat_set},
        },
        odrl=True,
    )
    typed(
        "DataService",
        "dcat:DataService",
        {"endpointDescription": "dcat:endpointDescription", "endpointURL": "dcat:endpointURL"},
    )
    typed(
        "Distribution",
        "dcat:Distribution",
        {
            "format": {"@type": "@vocab", "@id": "dct:format"},
            "accessService": {"@id": "dcat:accessService"},
        },
    )
    ctx["CatalogService"] = {
        "@id": "dspace:CatalogService",
        "@context": {
            "id": "@id",
            "type": "@type",
            "serviceEndpoint": {"@id": "https://www.w3.org/ns/did#serviceEndpoint", **_ID},
        },
    }
    for name in [
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
    ]:
        ctx[name] = f"dspace:{name}"
    return ctx


PINNED_CONTEXTS: Final[Mapping[str, Mapping[str, Any]]] = {
    ODRL_CONTEXT_URL: {"@context": _odrl_context()},
    DSP_CONTEXT_URL: {"@context": _dsp_context()},
    DSP_ODRL_PROFILE_URL: {"@context": _dsp_odrl_profile()},
}


def pinned_loader(url: str) -> Mapping[str, Any]:
    """The built-in loader: the three pinned documents, anything else is refused."""
    doc = PINNED_CONTEXTS.get(url) or PINNED_CONTEXTS.get(url.replace("https://", "http://", 1))
    if doc is None:
        raise UnknownContext(f"JSON-LD context {url!r} is not pinned", context=url)
    return doc


_MAX_CONTEXT_DEPTH = 16


def inline_contexts(document: Any, loader: ContextLoader | None = None) -> Any:
    """Return a copy of ``document`` in which every remote context reference is inlined.

    ``@context`` strings are replaced by the pinned documents' contexts and ``@import`` is merged
    (imported terms first, local terms override), so the JSON-LD parser never needs the network.
    """
    load = loader or pinned_loader
    return _walk(document, load, 0)


def _walk(value: Any, load: ContextLoader, depth: int) -> Any:
    if depth > 64:
        raise Invalid("JSON-LD document nested too deeply", reason="jsonld_too_deep")
    if isinstance(value, list):
        return [_walk(v, load, depth + 1) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key == "@context":
            out[key] = _context(item, load, 0)
        else:
            out[key] = _walk(item, load, depth + 1)
    return out


def _context(ctx: Any, load: ContextLoader, depth: int) -> Any:
    if depth > _MAX_CONTEXT_DEPTH:
        raise Invalid("JSON-LD contexts nested too deeply", reason="jsonld_context_too_deep")
    if isinstance(ctx, list):
        flat: list[Any] = []
        for item in ctx:
            resolved = _context(item, load, depth + 1)
            flat.extend(resolved if isinstance(resolved, list) else [resolved])
        return flat
    if isinstance(ctx, str):
        doc = load(ctx)
        inner = doc.get("@context") if isinstance(doc, Mapping) else None
        if inner is None:
            raise UnknownContext(f"pinned document for {ctx!r} has no @context", context=ctx)
        return _context(inner, load, depth + 1)
    if not isinstance(ctx, dict):
        return ctx
    result: dict[str, Any] = {}
    imported = ctx.get("@import")
    if isinstance(imported, str):
        base = _context(imported, load, depth + 1)
        if isinstance(base, dict):
            result.update({k: v for k, v in base.items() if k not in ("@version",)})
    for key, item in ctx.items():
        if key == "@import":
            continue
        if isinstance(item, dict) and "@context" in item:
            result[key] = {**item, "@context": _context(item["@context"], load, depth + 1)}
        else:
            result[key] = item
    return result


def undefined_keys(document: Any) -> list[str]:
    """Keys of an inlined JSON-LD ``document`` (see :func:`inline_contexts`) that no context in
    it defines and that are no keyword or IRI: JSON-LD expansion drops them without a word,
    and with them what they said (``"constraints"`` for ``"constraint"`` would drop the
    constraints, and the rule would permit more). A key whose value is empty (``[]``,
    ``{}``, ``null``) says nothing and is not reported; with a ``@vocab`` every key is
    defined. Contexts are pooled over the whole document (a term defined anywhere counts):
    this errs on the side of accepting."""
    terms: set[str] = set()
    json_terms: set[str] = set()
    vocab = [False]

    def contexts(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                contexts(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key == "@context":
                    definitions(item)
                elif key not in ("@value", "@json"):
                    contexts(item)

    def definitions(ctx: Any) -> None:
        if isinstance(ctx, list):
            for item in ctx:
                definitions(item)
        elif isinstance(ctx, dict):
            for term, definition in ctx.items():
                if term == "@vocab" and definition:
                    vocab[0] = True
                if term.startswith("@"):
                    continue
                terms.add(term)
                if isinstance(definition, dict):
                    if definition.get("@type") == "@json":
                        json_terms.add(term)
                    if "@context" in definition:
                        definitions(definition["@context"])

    contexts(document)
    if vocab[0]:
        return []
    found: list[str] = []

    def keys(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                keys(item)
        elif isinstance(value, dict):
            for key, item in value.items():
                if key in ("@context", "@value") or key in json_terms:
                    continue
                if not (key.startswith("@") or ":" in key or key in terms):
                    if item not in ([], {}, None) and key not in found:
                        found.append(key)
                    continue
                keys(item)

    keys(document)
    return found
