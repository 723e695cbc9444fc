"""Every official DSP 2025-1 example parses with our codec and round-trips unchanged.

Each is also read in its prefixed (``dspace:``/``odrl:``/``dcat:``) and expanded (full IRIs,
arrays, ``@value``/``@id`` objects) spellings, which must give the same model, and it passes
this connector's own JSON Schema (:mod:`connector.dsp.schemas`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from connector.dsp import codec, schemas
from connector.dsp.base import DCAT, DCT, DSPACE, ODRL
from connector.dsp.messages import MESSAGE_TYPES
from connector.dsp.terms import SET_TERMS
from connector.dsp.version import DidService, VersionResponse

_NAMESPACE = {
    "dcat": DCAT,
    "dct": DCT,
    "odrl": ODRL,
    "dspace": DSPACE,
}
_PREFIX_OF = {
    **dict.fromkeys(
        ["service", "catalog", "dataset", "distribution", "endpointURL", "accessService"], "dcat"
    ),
    "format": "dct",
    **dict.fromkeys(
        [
            "hasPolicy",
            "profile",
            "target",
            "assignee",
            "assigner",
            "action",
            "permission",
            "prohibition",
            "obligation",
            "constraint",
            "operator",
            "rightOperand",
            "leftOperand",
            "and",
            "or",
            "xone",
            "andSequence",
        ],
        "odrl",
    ),
}
_CLASS_PREFIX = {
    "Catalog": "dcat",
    "Dataset": "dcat",
    "DataService": "dcat",
    "Distribution": "dcat",
    "Offer": "odrl",
    "Agreement": "odrl",
}


def _load(path: Path | None) -> Any:
    if path is None:
        pytest.skip("DSP 2025-1 vectors not found (../shared/vectors beside the checkout)")
    return json.loads(path.read_text())


def _prefixed(node: Any, expand: bool = False) -> Any:
    """Rewrite a compact body with prefixed (or, with ``expand``, full-IRI) keys and types."""

    def name(term: str) -> str:
        prefix = _PREFIX_OF.get(term, "dspace")
        if term == "dataset" and node.get("@type") == "DatasetRequestMessage":
            prefix = "dspace"
        return (_NAMESPACE[prefix] if expand else f"{prefix}:") + term

    if isinstance(node, list):
        return [_prefixed(x, expand) for x in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "@context":
            out[key] = value
        elif key == "@type":
            prefix = _CLASS_PREFIX.get(value, "dspace")
            out[key] = (_NAMESPACE[prefix] if expand else f"{prefix}:") + value
        elif key.startswith("@"):
            out[key] = value
        elif key in ("state", "eventType"):
            out[name(key)] = "dspace:" + value
        elif key == "action":
            out[name(key)] = "odrl:" + value
        else:
            out[name(key)] = _prefixed(value, expand)
    return out


def _expanded(node: Any, key: str = "") -> Any:
    """A faithful-enough expanded JSON-LD rendering: arrays everywhere, value/id objects."""
    if isinstance(node, list):
        return [_expanded(x, key) for x in node]
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for k, v in node.items():
            if k == "@context":
                continue
            if k == "@id":
                out[k] = v
            elif k == "@type":
                out[k] = [v]
            else:
                items = v if isinstance(v, list) else [v]
                out[k] = [_expanded(i, k) for i in items]
        return out
    if key in ("providerPid", "consumerPid", "agreementId", "target", "assigner", "assignee"):
        return {"@id": node}
    return {"@value": node}


def _expand_keys(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [_expanded(_prefixed(body, expand=True))]


def test_example_round_trips(example_path: Path | None) -> None:
    body = _load(example_path)
    if "protocolVersions" in body:
        version = codec.parse_version(body)
        assert version.model_dump(by_alias=True, exclude_none=True) == body
        return
    if "serviceEndpoint" in body:
        service = DidService.model_validate(body)
        assert service.model_dump(by_alias=True, exclude_none=True) == body
        return
    message = codec.parse(body)
    assert codec.serialize(message) == body
    assert codec.parse(codec.serialize(message)) == message
    assert codec.loads(codec.dumps(message)) == message


def test_example_passes_our_own_schema(example_path: Path | None) -> None:
    body = _load(example_path)
    if "serviceEndpoint" in body:
        pytest.skip("DID service entries are not a DSP message body")
    model = VersionResponse if "protocolVersions" in body else MESSAGE_TYPES[body["@type"]]
    schemas.validate(body, model)


def test_example_in_prefixed_form_parses_the_same(example_path: Path | None) -> None:
    body = _load(example_path)
    if "@type" not in body or "serviceEndpoint" in body:
        pytest.skip("not a typed DSP message")
    assert codec.parse(_prefixed(body)) == codec.parse(body)


def test_example_in_expanded_form_parses_the_same(example_path: Path | None) -> None:
    body = _load(example_path)
    if "@type" not in body or "serviceEndpoint" in body:
        pytest.skip("not a typed DSP message")
    expanded = _expand_keys(body)
    assert codec.terms.is_expanded(expanded)
    assert codec.parse(expanded) == codec.parse(body)


def test_set_terms_cover_every_list_in_examples(example_path: Path | None) -> None:
    """A list-valued property in an example is one the expanded reader keeps as a list."""
    body = _load(example_path)

    def lists(node: Any) -> set[str]:
        found: set[str] = set()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, list) and not key.startswith("@"):
                    found.add(key)
                found |= lists(value)
        elif isinstance(node, list):
            for item in node:
                found |= lists(item)
        return found

    assert lists(body) - {"protocolVersions"} <= SET_TERMS | {"profile", "rightOperand"}
