"""Canonicalization and Data Integrity timings: the chosen path beside the pyld-only path.

Run: ``.venv/bin/python benchmarks/canonicalization.py``. Prints per-credential times (median of
repeated runs) for a realistic ~40-field dataset self-description (DCAT-AP.de / Gaia-X terms,
context pinned by URL), the ratio pyld-only / chosen, and the time to refuse the RDFC-1.0 poison
clique (rdf-canon test074 shape).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox
from cryptography.hazmat.primitives.asymmetric import ed25519
from pyld import jsonld as pyld_jsonld

from connector.credentials import data_integrity as di
from connector.credentials.canonical import canonical_nquads, canonicalize_quads
from connector.credentials.jsonld import PinnedLoader, default_loader
from connector.credentials.methods import Relationship, VerificationMethod
from connector.errors import PayloadTooLarge

CONTEXT_URL = "https://benchmark.example/dataset-context.jsonld"
DID = "did:web:hagen.example"


def _context() -> dict[str, Any]:
    ctx = {
        "dct": "http://purl.org/dc/terms/",
        "dcat": "http://www.w3.org/ns/dcat#",
        "dcatde": "http://dcat-ap.de/def/dcatde/",
        "gx": "https://w3id.org/gaia-x/development#",
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "odrl": "http://www.w3.org/ns/odrl/2/",
        "title": {"@id": "dct:title", "@container": "@language"},
        "descr": {"@id": "dct:description", "@container": "@language"},
        "publisher": {"@id": "dct:publisher", "@type": "@id"},
        "license": {"@id": "dct:license", "@type": "@id"},
        "theme": {"@id": "dcat:theme", "@type": "@id"},
        "keyword": {"@id": "dcat:keyword"},
        "distribution": {"@id": "dcat:distribution"},
        "format": {"@id": "dct:format", "@type": "@id"},
        "accessURL": {"@id": "dcat:accessURL", "@type": "@id"},
        "dcatMediaType": {"@id": "dcat:mediaType"},
        "geocoding": {"@id": "dcatde:politicalGeocodingURI", "@type": "@id"},
        "temporal": {"@id": "dct:temporal"},
        "startDate": {"@id": "dcat:startDate", "@type": "xsd:dateTime"},
        "endDate": {"@id": "dcat:endDate", "@type": "xsd:dateTime"},
        "spatial": {"@id": "dct:spatial", "@type": "@id"},
        "accrualPeriodicity": {"@id": "dct:accrualPeriodicity", "@type": "@id"},
        "hasPolicy": {"@id": "odrl:hasPolicy"},
        "permission": {"@id": "odrl:permission"},
        "action": {"@id": "odrl:action", "@type": "@id"},
        "Dataset": "dcat:Dataset",
        "Distribution": "dcat:Distribution",
        "DataProduct": "gx:DataProduct",
        "Set": "odrl:Set",
        "PeriodOfTime": "dct:PeriodOfTime",
        "providedBy": {"@id": "gx:providedBy", "@type": "@id"},
        "hash": "gx:hash",
        "termsUrl": {"@id": "gx:url", "@type": "xsd:anyURI"},
        "termsAndConditions": "gx:termsAndConditions",
    }
    return {"@context": ctx}


def sample_credential(n_distributions: int = 2) -> dict[str, Any]:
    """A ~40-field dataset self-description of the City of Hagen."""
    dists = [
        {
            "type": "Distribution",
            "format": "http://publications.europa.eu/resource/authority/file-type/CSV",
            "accessURL": f"https://hagen.example/dsp/data/{i}",
            "dcatMediaType": "text/csv",
            "title": {"de": f"Verteilung {i}", "en": f"Distribution {i}"},
        }
        for i in range(n_distributions)
    ]
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", CONTEXT_URL],
        "id": "https://hagen.example/sd/air-quality",
        "type": ["VerifiableCredential"],
        "issuer": "did:web:hagen.example",
        "validFrom": "2026-01-01T00:00:00Z",
        "validUntil": "2027-01-01T00:00:00Z",
        "name": "Luftqualität Boele–Eckesey",
        "description": "Dataset self-description of the City of Hagen",
        "credentialSubject": {
            "id": "https://hagen.example/datasets/air-quality",
            "type": ["DataProduct", "Dataset"],
            "title": {
                "de": "Luftqualität Pilotstrecke Boele–Eckesey",
                "en": "Air quality on the Boele–Eckesey pilot route",
            },
            "descr": {
                "de": "CO2, NO2, PM10, Temperatur, Feuchte im 10-Minuten-Takt",
                "en": "CO2, NO2, PM10, temperature, humidity every 10 minutes",
            },
            "publisher": "did:web:hagen.example",
            "providedBy": "did:web:hagen.example",
            "license": "http://dcat-ap.de/def/licenses/dl-by-de/2.0",
            "theme": [
                "http://publications.europa.eu/resource/authority/data-theme/ENVI",
                "http://publications.europa.eu/resource/authority/data-theme/TRAN",
            ],
            "keyword": ["Luftqualität", "CO2", "NO2", "PM10", "Hagen"],
            "geocoding": "http://dcat-ap.de/def/politicalGeocoding/regionalKey/059140000000",
            "spatial": "http://sws.geonames.org/2911298/",
            "accrualPeriodicity": "http://publications.europa.eu/resource/authority/frequency/CONT",
            "temporal": {
                "type": "PeriodOfTime",
                "startDate": "2025-01-01T00:00:00Z",
                "endDate": "2025-12-31T23:59:59Z",
            },
            "termsAndConditions": {
                "termsUrl": "https://hagen.example/terms",
                "hash": "8acc4f464f2fbf0b104410f5f9d203df707810a162d4f5d72fcb0aa94af6c8fb",
            },
            "distribution": dists,
            "hasPolicy": {
                "id": "https://hagen.example/policies/open",
                "type": "Set",
                "permission": {"action": "odrl:use"},
            },
        },
    }


def _median_ms(fn: Callable[[], object], repeat: int = 300) -> float:
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    loader: PinnedLoader = default_loader().with_documents({CONTEXT_URL: _context()})
    document = sample_credential()
    key = ed25519.Ed25519PrivateKey.generate()
    method = f"{DID}#ed25519"

    def resolve(method_id: str, relationship: Relationship) -> VerificationMethod:
        return VerificationMethod(method_id, DID, "Multikey", key.public_key())

    signed = di.sign(
        document, key=key, verification_method=method, created="2026-01-01T00:00:00Z", loader=loader
    )
    fields = sum(1 for line in canonical_nquads(document, loader=loader).splitlines())
    print(f"credential: {fields} quads")
    rows = []
    for label, engine in (("chosen (oxigraph)", "oxigraph"), ("pyld-only", "pyld")):
        canon = _median_ms(lambda e=engine: canonical_nquads(document, loader=loader, engine=e))
        sign = _median_ms(
            lambda e=engine: di.sign(
                document,
                key=key,
                verification_method=method,
                created="2026-01-01T00:00:00Z",
                loader=loader,
                engine=e,
            )
        )
        verify = _median_ms(
            lambda e=engine: di.verify(signed, resolve=resolve, loader=loader, engine=e)
        )
        rows.append((label, canon, sign, verify))
        print(
            f"{label:20s} canonicalize {canon:6.3f} ms  DI sign {sign:6.3f} ms"
            f"  DI verify {verify:6.3f} ms"
        )
    raw = _median_ms(
        lambda: pyld_jsonld.normalize(
            document,
            {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader},
        )
    )
    print(f"{'raw pyld normalize':20s} canonicalize {raw:6.3f} ms (no term check, no budget)")
    (_, c1, s1, v1), (_, c2, s2, v2) = rows
    print(
        f"ratio pyld-only/chosen: canonicalize {c2 / c1:.2f}x  sign {s2 / s1:.2f}x"
        f"  verify {v2 / v1:.2f}x"
    )

    nodes = [ox.BlankNode(f"e{i}") for i in range(10)]
    clique = [ox.Quad(a, ox.NamedNode("http://example.com/p"), b) for a in nodes for b in nodes]

    def refuse() -> None:
        try:
            canonicalize_quads(clique)
        except PayloadTooLarge:
            return
        raise AssertionError("poison clique was not refused")

    print(f"poison clique (10 blank nodes) refused in {_median_ms(refuse, repeat=5):.0f} ms")


if __name__ == "__main__":
    main()
