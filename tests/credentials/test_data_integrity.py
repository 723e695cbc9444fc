from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from connector.clock import FixedClock
from connector.credentials import data_integrity as di
from connector.credentials.canonical import UndefinedTerms, canonical_nquads
from connector.credentials.jsonld import PinnedLoader, default_loader
from connector.credentials.methods import MethodResolver, Relationship, VerificationMethod
from connector.credentials.multikey import b58decode
from connector.errors import ConnectorError, UnknownContext, VerificationFailed

V2 = "https://www.w3.org/ns/credentials/v2"
DID = "did:web:hagen.example"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _vector_key(multibase: str) -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.from_private_bytes(b58decode(multibase[1:])[2:])


@pytest.mark.parametrize("folder", ["eddsa-rdfc-2022", "eddsa-rdfc-2022/employ"])
def test_vector_intermediates_byte_for_byte(
    di_vectors: Path, example_loader: PinnedLoader, folder: str
) -> None:
    base = di_vectors / folder
    signed = _json(base / "signedDataInt.json")
    config = _json(base / "proofConfigDataInt.json")
    proof_canon = canonical_nquads(config, loader=example_loader)
    doc_canon = canonical_nquads(di.unsecured(signed), loader=example_loader)
    assert proof_canon == (base / "proofCanonDataInt.txt").read_text()
    assert doc_canon == (base / "canonDocDataInt.txt").read_text()
    assert (
        hashlib.sha256(proof_canon.encode()).hexdigest()
        == (base / "proofHashDataInt.txt").read_text().strip()
    )
    assert (
        hashlib.sha256(doc_canon.encode()).hexdigest()
        == (base / "docHashDataInt.txt").read_text().strip()
    )
    data = di.hash_data(signed, config, loader=example_loader)
    assert data.hex() == (base / "combinedHashDataInt.txt").read_text().strip()
    key = _vector_key(_json(di_vectors / "keyPair.json")["privateKeyMultibase"])
    assert key.sign(data).hex() == (base / "sigHexDataInt.txt").read_text().strip()


@pytest.mark.parametrize(
    ("unsigned", "folder"),
    [("unsigned.json", "eddsa-rdfc-2022"), ("employmentAuth.json", "eddsa-rdfc-2022/employ")],
)
def test_signing_reproduces_the_vectors_and_they_verify(
    di_vectors: Path,
    example_loader: PinnedLoader,
    did_key_resolver: MethodResolver,
    unsigned: str,
    folder: str,
) -> None:
    expected = _json(di_vectors / folder / "signedDataInt.json")
    key = _vector_key(_json(di_vectors / "keyPair.json")["privateKeyMultibase"])
    signed = di.sign(
        _json(di_vectors / unsigned),
        key=key,
        verification_method=expected["proof"]["verificationMethod"],
        created="2023-02-24T23:36:38Z",
        loader=example_loader,
    )
    assert signed["proof"] == expected["proof"]
    verified = di.verify(expected, resolve=did_key_resolver, loader=example_loader)
    assert verified.cryptosuite == "eddsa-rdfc-2022"
    assert verified.method.controller == expected["proof"]["verificationMethod"].split("#")[0]


def test_proof_set_vector_verifies(
    di_vectors: Path, example_loader: PinnedLoader, did_key_resolver: MethodResolver
) -> None:
    document = _json(di_vectors / "proof-set-chain" / "signedProofSet2.json")
    verified = di.verify_proof_set(document, resolve=did_key_resolver, loader=example_loader)
    assert len(verified) == 2
    broken = copy.deepcopy(document)
    broken["proof"][1]["proofValue"] = broken["proof"][0]["proofValue"]
    with pytest.raises(VerificationFailed, match="signature"):
        di.verify_proof_set(broken, resolve=did_key_resolver, loader=example_loader)


# --- our own keys -------------------------------------------------------------------------------


def _credential() -> dict[str, Any]:
    return {
        "@context": [V2],
        "id": "https://hagen.example/credentials/1",
        "type": ["VerifiableCredential"],
        "issuer": {"id": DID, "name": "Stadt Hagen"},
        "validFrom": "2026-01-01T00:00:00Z",
        "name": "Luftqualität Boele–Eckesey",
        "description": "CO2 ppm, NO2 µg/m³, PM10 µg/m³",
        "credentialSubject": {
            "id": "https://hagen.example/datasets/air",
            "name": "Luftqualität",
            "description": {"@value": "Air quality", "@language": "en"},
        },
    }


class _Resolver:
    def __init__(self, methods: dict[str, tuple[Any, Relationship]]) -> None:
        self.methods = methods

    def __call__(self, method_id: str, relationship: Relationship) -> VerificationMethod:
        if method_id not in self.methods or self.methods[method_id][1] != relationship:
            raise VerificationFailed(f"{method_id} not listed", reason="method_not_authorized")
        key = self.methods[method_id][0]
        return VerificationMethod(id=method_id, controller=DID, type="Multikey", public_key=key)


ED = ed25519.Ed25519PrivateKey.generate()
P256 = ec.generate_private_key(ec.SECP256R1())
P384 = ec.generate_private_key(ec.SECP384R1())
RESOLVER = _Resolver(
    {
        f"{DID}#ed25519": (ED.public_key(), "assertionMethod"),
        f"{DID}#p256": (P256.public_key(), "assertionMethod"),
        f"{DID}#p384": (P384.public_key(), "assertionMethod"),
        f"{DID}#auth": (ED.public_key(), "authentication"),
    }
)


def _sign(
    document: dict[str, Any], key: Any = ED, fragment: str = "ed25519", **kw: Any
) -> dict[str, Any]:
    return di.sign(
        document,
        key=key,
        verification_method=f"{DID}#{fragment}",
        created="2026-01-02T03:04:05Z",
        loader=default_loader(),
        **kw,
    )


@pytest.mark.parametrize(
    ("key", "fragment", "suite"),
    [
        (ED, "ed25519", "eddsa-rdfc-2022"),
        (P256, "p256", "ecdsa-rdfc-2019"),
        (P384, "p384", "ecdsa-rdfc-2019"),
    ],
)
def test_sign_and_verify_each_suite(key: Any, fragment: str, suite: str) -> None:
    signed = _sign(_credential(), key, fragment)
    assert signed["proof"]["cryptosuite"] == suite
    verified = di.verify(signed, resolve=RESOLVER, loader=default_loader(), expected_controller=DID)
    assert verified.method.id == f"{DID}#{fragment}"
    for engine in ("oxigraph", "pyld"):
        di.verify(signed, resolve=RESOLVER, loader=default_loader(), engine=engine)  # type: ignore[arg-type]


def test_proof_set_of_two_suites() -> None:
    signed = _sign(_sign(_credential()), P256, "p256")
    assert len(signed["proof"]) == 2
    assert [
        p.cryptosuite
        for p in di.verify_proof_set(signed, resolve=RESOLVER, loader=default_loader())
    ] == [
        "eddsa-rdfc-2022",
        "ecdsa-rdfc-2019",
    ]


def _reason(document: dict[str, Any], **kw: Any) -> str:
    with pytest.raises(VerificationFailed) as caught:
        di.verify(document, resolve=RESOLVER, loader=default_loader(), **kw)
    return caught.value.reason


def test_failure_reasons() -> None:
    signed = _sign(_credential())
    assert _reason(di.unsecured(signed)) == "missing_proof"
    assert (
        _reason({**signed, "proof": {**signed["proof"], "cryptosuite": "bbs-2023"}})
        == "unknown_cryptosuite"
    )
    assert (
        _reason({**signed, "proof": {**signed["proof"], "type": "Ed25519Signature2020"}})
        == "unknown_proof_type"
    )
    assert _reason(signed, relationship="authentication") == "wrong_proof_purpose"
    assert _reason(signed, expected_controller="did:web:other.example") == "method_not_authorized"
    assert (
        _reason({**signed, "proof": {**signed["proof"], "proofValue": "u123"}}) == "malformed_proof"
    )
    with_undefined = {
        **signed,
        "credentialSubject": {**signed["credentialSubject"], "colour": "red"},
    }
    assert _reason(with_undefined) == "undefined_term"
    not_listed = _sign(_credential(), ED, "auth")
    assert _reason(not_listed) == "method_not_authorized"
    wrong_key = {**signed, "proof": {**signed["proof"], "verificationMethod": f"{DID}#p256"}}
    assert _reason(wrong_key) == "wrong_key_type"
    expiring = _sign(_credential(), expires="2026-02-01T00:00:00Z")
    di.verify(
        expiring,
        resolve=RESOLVER,
        loader=default_loader(),
        clock=FixedClock("2026-01-15T00:00:00Z"),
    )
    assert _reason(expiring, clock=FixedClock("2026-03-01T00:00:00Z")) == "proof_expired"


def test_signing_refuses_undefined_terms() -> None:
    document = _credential()
    document["credentialSubject"]["kWhPerYear"] = 950
    with pytest.raises(UndefinedTerms) as caught:
        _sign(document)
    assert caught.value.reason == "undefined_term"
    assert caught.value.terms[0].path == "$.credentialSubject.kWhPerYear"


# --- every single-field change must fail ----------------------------------------------------------

SIGNED = _sign(_credential())


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in [(*path, ("key", k)), *_paths(v, (*path, k))]]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _paths(v, (*path, i))]
    return [(*path, ("leaf",))]


def _mutate(document: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    mutated = copy.deepcopy(document)
    parent: Any = mutated
    for step in path[:-2] if path[-1] == ("leaf",) else path[:-1]:
        parent = parent[step]
    action = path[-1]
    if action == ("leaf",):
        last = path[-2]
        old = parent[last]
        if isinstance(old, str):
            parent[last] = old[:-1] + ("X" if not old.endswith("X") else "Y")
        else:
            parent[last] = not old if isinstance(old, bool) else old + 1
    else:
        key = action[1]
        parent[key + "X"] = parent.pop(key)
    return mutated


@pytest.mark.parametrize("path", _paths(SIGNED), ids=lambda p: "/".join(map(str, p)))
def test_every_single_field_change_fails(path: tuple[Any, ...]) -> None:
    mutated = _mutate(SIGNED, path)
    assert mutated != SIGNED
    with pytest.raises(ConnectorError) as caught:
        di.verify(mutated, resolve=RESOLVER, loader=default_loader())
    assert isinstance(caught.value, VerificationFailed | UnknownContext)
