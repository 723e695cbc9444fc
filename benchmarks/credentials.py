"""Sign/verify throughput for the city's self-descriptions, measured side by side in one run.

Run: ``.venv/bin/python benchmarks/credentials.py`` (reads ``self-descriptions/hagen.toml``; the
Gaia-X 25.11 shapes from ``../shared/vectors`` if present). Prints, per format, operations per
second and the ratios the trust-layer issue sets targets for:

* Data Integrity verify, chosen engine (pyoxigraph) vs the pyld-only path   (target >= 3x)
* vc+jwt verify (ours, warm DID cache) vs a raw jwcrypto JWS verify          (target >= 0.8x)
* SHACL validation, warm, against the 25.11 shapes                          (target < 20 ms)

Timings interleave the compared paths round by round and report medians, because the machine
is small and noisy; compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jwcrypto import jwk, jws

from connector.clock import FixedClock
from connector.credentials import data_integrity, jose
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.credentials.jsonld import default_loader
from connector.credentials.keys import public_jwk
from connector.credentials.self_description import build_credentials, load_config
from connector.testing import throwaway_keyset

ROOT = Path(__file__).resolve().parents[1]
VECTORS = ROOT.parent / "shared" / "vectors"
DID = "did:web:connector.hagen.example"
BASE = "https://connector.hagen.example"
ROUNDS = 7


def per_op(fn: Callable[[], object], items: int) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) / items


def interleaved(paths: dict[str, Callable[[], object]], items: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(ROUNDS):
        for name, fn in paths.items():
            samples[name].append(per_op(fn, items))
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> int:
    clock = FixedClock("2026-12-01T10:00:00Z")
    keyset = throwaway_keyset(DID)
    loader = default_loader()
    config = load_config(ROOT / "self-descriptions" / "hagen.toml")
    unsigned = list(
        build_credentials(config, issuer_did=DID, base_url=BASE, issued=clock.now()).values()
    )
    n = len(unsigned)
    resolver = DidResolver(clock, None, pinned=[build_did_document(keyset)])

    def sign_di(suite: str, engine: Any = "oxigraph") -> list[dict[str, Any]]:
        key: Any = keyset.ed25519 if suite == data_integrity.EDDSA else keyset.p256
        kind: Any = "ed25519" if suite == data_integrity.EDDSA else "p256"
        return [
            data_integrity.sign(
                c,
                key=key,
                verification_method=keyset.method_id(kind, multikey=True),
                created=clock.now(),
                loader=loader,
                cryptosuite=suite,
                engine=engine,
            )
            for c in unsigned
        ]

    signed_eddsa = sign_di(data_integrity.EDDSA)
    signed_ecdsa = sign_di(data_integrity.ECDSA)
    tokens = [
        jose.issue_vc_jwt(c, key=keyset.p256, method_id=keyset.method_id("p256")) for c in unsigned
    ]
    raw_key = jwk.JWK(**public_jwk(keyset.p256))

    def verify_di(docs: list[dict[str, Any]], engine: Any) -> None:
        for d in docs:
            data_integrity.verify(d, resolve=resolver, loader=loader, engine=engine)

    def verify_jwt_ours() -> None:
        for t in tokens:
            jose.verify_vc_jwt(t, resolver=resolver, at=clock.now())

    def verify_jwt_raw() -> None:
        for t in tokens:
            token = jws.JWS()
            token.deserialize(t)
            token.verify(raw_key, alg="ES256")

    print(f"credentials benchmark: {n} Hagen self-descriptions, median of {ROUNDS} rounds")
    sign = interleaved(
        {
            "sign DI eddsa-rdfc-2022 (oxigraph)": lambda: sign_di(data_integrity.EDDSA),
            "sign DI eddsa-rdfc-2022 (pyld only)": lambda: sign_di(data_integrity.EDDSA, "pyld"),
            "sign DI ecdsa-rdfc-2019 (oxigraph)": lambda: sign_di(data_integrity.ECDSA),
            "sign vc+jwt ES256": lambda: [
                jose.issue_vc_jwt(c, key=keyset.p256, method_id=keyset.method_id("p256"))
                for c in unsigned
            ],
        },
        n,
    )
    verify = interleaved(
        {
            "verify DI eddsa (oxigraph)": lambda: verify_di(signed_eddsa, "oxigraph"),
            "verify DI eddsa (pyld only)": lambda: verify_di(signed_eddsa, "pyld"),
            "verify DI ecdsa (oxigraph)": lambda: verify_di(signed_ecdsa, "oxigraph"),
            "verify vc+jwt (ours, warm cache)": verify_jwt_ours,
            "verify raw jwcrypto JWS": verify_jwt_raw,
        },
        n,
    )
    for name, seconds in {**sign, **verify}.items():
        print(f"  {name:<40} {1 / seconds:>9.0f} /s   {seconds * 1000:7.3f} ms")
    di_ratio = verify["verify DI eddsa (pyld only)"] / verify["verify DI eddsa (oxigraph)"]
    jwt_ratio = verify["verify raw jwcrypto JWS"] / verify["verify vc+jwt (ours, warm cache)"]
    print(f"ratio DI verify chosen / pyld-only speed: {di_ratio:.2f}x (target >= 3x)")
    print(f"ratio vc+jwt verify ours / raw jwcrypto speed: {jwt_ratio:.2f}x (target >= 0.8x)")

    from connector.credentials.shacl import (
        Shapes,
        project_shapes,
        supporting_documents,
        validate_credential,
    )

    shape_sets = {"project shapes": project_shapes()}
    official = VECTORS / "gaia-x" / "loire-25.11" / "gx.shacl.ttl"
    if official.is_file():
        shape_sets["Gaia-X 25.11 shapes"] = Shapes.parse(official.read_text(encoding="utf-8"))
    else:
        print(f"  (Gaia-X 25.11 shapes not found at {official}; skipped)")
    # Each credential with the others as supporting data (converted once, as a verifier does).
    support = {
        id(c): supporting_documents([o for o in unsigned if o is not c], loader=loader)
        for c in unsigned
    }
    for label, shapes in shape_sets.items():
        for c in unsigned:
            report = validate_credential(c, shapes, loader=loader, supporting=support[id(c)])
            if not report.conforms:
                print(f"  ! {c['id']} does not conform to the {label}: {report.describe()}")
        timings = []
        for _ in range(ROUNDS):
            timings.append(
                per_op(
                    lambda shapes=shapes: [
                        validate_credential(c, shapes, loader=loader, supporting=support[id(c)])
                        for c in unsigned
                    ],
                    n,
                )
            )
        ms = statistics.median(timings) * 1000
        print(f"SHACL {label}, warm: {ms:.2f} ms per credential (target < 20 ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
