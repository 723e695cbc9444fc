"""Fixtures for the trust-layer tests: the W3C DI vectors, their example contexts, a did:key resolver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from connector.credentials.did_key import public_key_of
from connector.credentials.jsonld import PinnedLoader, default_loader
from connector.credentials.methods import MethodResolver, Relationship, VerificationMethod
from connector.errors import VerificationFailed

EX = "https://www.w3.org/ns/credentials/examples#"
CIT = "https://w3id.org/citizenship#"
SCHEMA = "https://schema.org/"
DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"

# Minimal stand-ins for the two example contexts the W3C vectors use (the terms they need only).
TEST_CONTEXTS: dict[str, Any] = {
    "https://www.w3.org/ns/credentials/examples/v2": {"@context": {"@vocab": EX}},
    "https://w3id.org/citizenship/v4rc1": {
        "@context": {
            "EmploymentAuthorizationDocumentCredential": CIT
            + "EmploymentAuthorizationDocumentCredential",
            "EmploymentAuthorizationDocument": CIT + "EmploymentAuthorizationDocument",
            "EmployablePerson": CIT + "EmployablePerson",
            "Person": SCHEMA + "Person",
            "image": {"@id": SCHEMA + "image", "@type": "@id"},
            "givenName": SCHEMA + "givenName",
            "additionalName": SCHEMA + "additionalName",
            "familyName": SCHEMA + "familyName",
            "gender": SCHEMA + "gender",
            "identifier": SCHEMA + "identifier",
            "birthDate": {"@id": SCHEMA + "birthDate", "@type": DATETIME},
            "residentSince": {"@id": CIT + "residentSince", "@type": DATETIME},
            "birthCountry": CIT + "birthCountry",
            "lprCategory": CIT + "lprCategory",
            "lprNumber": CIT + "lprNumber",
            "employmentAuthorizationDocument": {"@id": CIT + "employmentAuthorizationDocument"},
        }
    },
}


@pytest.fixture(scope="session")
def example_loader() -> PinnedLoader:
    """The project's loader plus the vectors' example contexts."""
    return default_loader().with_documents(TEST_CONTEXTS)


@pytest.fixture
def di_vectors(vectors: Path) -> Path:
    return vectors / "w3c-vc-di-eddsa" / "TestVectors"


def _resolve_did_key(method_id: str, relationship: Relationship) -> VerificationMethod:
    """A did:key resolver (offline): the key is the identifier."""
    did, _, fragment = method_id.partition("#")
    if fragment != did.removeprefix("did:key:"):
        raise VerificationFailed(f"unknown method {method_id}", reason="unknown_method")
    return VerificationMethod(
        id=method_id, controller=did, type="Multikey", public_key=public_key_of(did)
    )


@pytest.fixture
def did_key_resolver() -> MethodResolver:
    return _resolve_did_key
