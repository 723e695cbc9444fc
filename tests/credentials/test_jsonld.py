from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyld import jsonld as pyld_jsonld

from connector.credentials.canonical import canonicalize_quads
from connector.credentials.jsonld import (
    Limits,
    PinnedLoader,
    default_loader,
    parse_json,
    precheck,
    project_contexts,
    to_quads,
    undefined_terms,
)
from connector.errors import PayloadTooLarge, UnknownContext

V2 = "https://www.w3.org/ns/credentials/v2"
DSP = "https://w3id.org/dspace/2025/1/context.jsonld"
ODRL = "http://www.w3.org/ns/odrl.jsonld"


def test_serves_pyld_bundle_and_project_contexts() -> None:
    loader = default_loader()
    for url in (
        V2,
        "https://www.w3.org/2018/credentials/v1",
        "https://w3id.org/security/suites/jws-2020/v1",
        "https://w3id.org/security/jwk/v1",
        "https://w3id.org/security/multikey/v1",
        "https://w3id.org/security/data-integrity/v2",
        DSP,
        ODRL,
    ):
        remote = loader(url, {})
        assert remote["documentUrl"] == url
        assert "@context" in remote["document"]


def test_every_shipped_context_is_processable() -> None:
    loader = default_loader()
    for url in sorted(loader.urls):
        quads = to_quads({"@context": url, "@id": "urn:ex:x"}, loader=loader)
        assert quads.undefined == []


def test_unknown_context_is_refused_without_fetching() -> None:
    loader = default_loader()
    with pytest.raises(UnknownContext) as caught:
        loader("https://evil.example/context.jsonld", {})
    assert caught.value.detail == "unknown JSON-LD context: https://evil.example/context.jsonld"
    for engine in ("oxigraph", "pyld"):
        nested = {
            "@context": V2,
            "credentialSubject": {"@context": "https://evil.example/c", "a": 1},
        }
        with pytest.raises(UnknownContext, match=r"https://evil\.example/c"):
            to_quads(nested, loader=loader, engine=engine)  # type: ignore[arg-type]


def test_index_files_are_scanned_from_each_folder(tmp_path: Path) -> None:
    for name, url in (("one", "https://a.example/ctx"), ("two", "https://b.example/ctx")):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "c.jsonld").write_text(json.dumps({"@context": {"x": "urn:x"}}))
        (folder / "index.json").write_text(json.dumps({url: "c.jsonld"}))
    found = project_contexts(tmp_path)
    assert found == {
        "https://a.example/ctx": tmp_path / "one" / "c.jsonld",
        "https://b.example/ctx": tmp_path / "two" / "c.jsonld",
    }
    loader = PinnedLoader(found)
    assert to_quads(
        {"@context": "https://b.example/ctx", "@id": "urn:s", "x": 1}, loader=loader
    ).quads


def test_parse_json_limits() -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        parse_json(b"[" + b"1," * 600 + b"1]", Limits(max_bytes=1000))
    assert caught.value.reason == "too_large"
    with pytest.raises(PayloadTooLarge) as caught:
        parse_json("[" * 100 + "]" * 100, Limits(max_depth=32))
    assert caught.value.reason == "too_deep"
    with pytest.raises(PayloadTooLarge) as caught:
        parse_json("[" * 100_000 + "]" * 100_000, Limits(max_bytes=10**6))
    assert caught.value.reason == "too_deep"
    assert parse_json('{"a": [1, 2]}') == {"a": [1, 2]}


def test_precheck_counts_values() -> None:
    with pytest.raises(PayloadTooLarge):
        precheck({"a": list(range(100))}, Limits(max_values=50))
    precheck({"a": list(range(10))}, Limits(max_values=50))


def test_undefined_terms_are_reported_with_paths() -> None:
    document = {
        "@context": [V2],
        "id": "urn:uuid:1",
        "type": ["VerifiableCredential", "HagenCredential"],
        "issuer": "did:web:hagen.example",
        "credentialSubject": {"id": "did:web:x", "colour": {"shade": "red"}},
    }
    found = [(t.term, t.path) for t in undefined_terms(document, loader=default_loader())]
    assert found == [
        ("colour", "$.credentialSubject.colour"),
        ("shade", "$.credentialSubject.colour.shade"),
        ("HagenCredential", "$.type[1]"),
    ]


def test_undefined_proof_purpose_value_is_reported() -> None:
    document = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "proof": {"type": "DataIntegrityProof", "proofPurpose": "whatever"},
    }
    assert [t.term for t in undefined_terms(document, loader=default_loader())] == ["whatever"]


def test_defined_documents_have_no_undefined_terms() -> None:
    document = {
        "@context": [V2],
        "type": ["VerifiableCredential"],
        "issuer": {"id": "did:web:hagen.example", "name": "Stadt Hagen"},
        "validFrom": "2026-01-01T00:00:00Z",
        "credentialSubject": {"id": "did:web:x"},
    }
    assert undefined_terms(document, loader=default_loader()) == []


def _vector_loader(vectors: Path) -> PinnedLoader:
    ctx = vectors / "dsp-2025-1" / "context"
    return default_loader().with_documents(
        {
            DSP: ctx / "dspace.jsonld",
            "https://w3id.org/dspace/2025/1/odrl-profile.jsonld": ctx / "odrl.jsonld",
        }
    )


def test_dsp_context_is_equivalent_to_the_specification(vectors: Path) -> None:
    """Every DSP 2025-1 example message gives the same RDF with our context as with the spec's."""
    theirs = _vector_loader(vectors)
    ours = default_loader()
    examples = sorted((vectors / "dsp-2025-1").glob("*/example/*.json"))
    assert len(examples) > 20
    checked = 0
    for path in examples:
        message = json.loads(path.read_text(encoding="utf-8"))
        if message.get("@context") != [DSP]:
            continue
        for engine in ("oxigraph", "pyld"):
            expected = to_quads(message, loader=theirs, engine=engine)  # type: ignore[arg-type]
            got = to_quads(message, loader=ours, engine=engine)  # type: ignore[arg-type]
            assert got.undefined == expected.undefined, path.name
            assert canonicalize_quads(got.quads) == canonicalize_quads(expected.quads), path.name
        checked += 1
    assert checked > 20


def test_odrl_context_expands_policies() -> None:
    policy = {
        "@context": ODRL,
        "uid": "https://hagen.example/policies/p1",
        "type": "Set",
        "permission": [
            {
                "target": "https://hagen.example/datasets/energy",
                "action": "use",
                "constraint": [
                    {
                        "leftOperand": "purpose",
                        "operator": "isA",
                        "rightOperand": {"@id": "https://w3id.org/dpv#ResearchAndDevelopment"},
                    }
                ],
                "duty": [{"action": "attribute"}],
            }
        ],
    }
    expanded = pyld_jsonld.expand(policy, {"documentLoader": default_loader()})
    rule = expanded[0]["http://www.w3.org/ns/odrl/2/permission"][0]
    assert rule["http://www.w3.org/ns/odrl/2/action"] == [
        {"@id": "http://www.w3.org/ns/odrl/2/use"}
    ]
    constraint = rule["http://www.w3.org/ns/odrl/2/constraint"][0]
    assert constraint["http://www.w3.org/ns/odrl/2/leftOperand"] == [
        {"@id": "http://www.w3.org/ns/odrl/2/purpose"}
    ]
    assert constraint["http://www.w3.org/ns/odrl/2/operator"] == [
        {"@id": "http://www.w3.org/ns/odrl/2/isA"}
    ]
    assert undefined_terms(policy, loader=default_loader()) == []


_keys = st.sampled_from(["name", "description", "validFrom", "issuer", "credentialSubject", "id"])
_leaf = st.one_of(
    st.text(max_size=8),
    st.integers(-5, 10**12),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
)


@st.composite
def _credentials(draw: st.DrawFn) -> dict[str, Any]:
    subject: dict[str, Any] = {"id": "did:web:x"}
    for i in range(draw(st.integers(0, 4))):
        subject[f"ex:p{i}"] = draw(
            st.one_of(_leaf, st.lists(_leaf, max_size=3), st.fixed_dictionaries({"ex:q": _leaf}))
        )
    return {
        "@context": [V2, {"ex": "urn:ex:"}],
        "type": ["VerifiableCredential"],
        "issuer": "did:web:hagen.example",
        "name": draw(
            st.one_of(
                st.text(max_size=10),
                st.fixed_dictionaries(
                    {"@value": st.text(max_size=5), "@language": st.sampled_from(["de", "en"])}
                ),
            )
        ),
        "credentialSubject": subject,
    }


@settings(max_examples=40, deadline=None)
@given(_credentials())
def test_engines_agree(document: dict[str, Any]) -> None:
    loader = default_loader()
    fast = to_quads(document, loader=loader, engine="oxigraph")
    slow = to_quads(document, loader=loader, engine="pyld")
    assert fast.undefined == slow.undefined == []
    assert canonicalize_quads(fast.quads) == canonicalize_quads(slow.quads)
