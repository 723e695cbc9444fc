"""Self-issued ID tokens: issue and verify per second with a warm DID cache, beside a raw
jwcrypto JWS verify of the same tokens, in one run.

* issue: ``SelfIssuedTokenSource.token_for`` (ES256, with and without the ``token`` claim);
* verify: ``SelfIssuedAuthenticator.authenticate`` — DID resolution from the warm cache,
  signature, claims and the replay check (in-memory store, and the SQLite store shared by
  replicas);
* baseline: ``jwcrypto.jws.JWS.deserialize`` + ``verify`` with the key already parsed — a
  signature check only, no claims, no key lookup, no replay check.

Medians of 5 alternating rounds; compare the ratios, not the absolute figures.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from jwcrypto import jwk, jws

from connector.clock import SystemClock
from connector.credentials.did_resolver import DidResolver
from connector.credentials.did_web import build_did_document
from connector.credentials.keys import public_jwk
from connector.identity.replay import MemoryReplayStore
from connector.identity.scopes import MEMBERSHIP_SCOPE
from connector.identity.tokens import SelfIssuedAuthenticator, SelfIssuedTokenSource
from connector.stores.database import create_db_engine, migrate
from connector.stores.replay_store import SqlReplayStore
from connector.testing import throwaway_keyset

CLOCK = SystemClock()
PROVIDER = "did:web:provider.bench"
CONSUMER = throwaway_keyset("did:web:consumer.bench")
COUNT = 2000
ROUNDS = 5


class _Fetcher:
    """Serves the consumer's DID document (only the first resolution fetches: warm cache)."""

    def __init__(self) -> None:
        document = build_did_document(CONSUMER)
        document["capabilityInvocation"] = list(document["authentication"])
        self.body = json.dumps(document).encode()
        self.fetches = 0

    def fetch(self, url: str) -> bytes:
        self.fetches += 1
        return self.body


def _rate(work: Callable[[int], None], count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        work(i)
    return count / (time.perf_counter() - start)


def main() -> int:
    fetcher = _Fetcher()
    resolver = DidResolver(CLOCK, fetcher, ttl_seconds=3600)
    plain = SelfIssuedTokenSource(CONSUMER, CLOCK)
    with_access = SelfIssuedTokenSource(CONSUMER, CLOCK, default_scopes=[MEMBERSHIP_SCOPE])
    memory = SelfIssuedAuthenticator(resolver, PROVIDER, MemoryReplayStore(CLOCK), CLOCK)
    folder = Path(tempfile.mkdtemp(prefix="bench-identity-"))
    engine = create_db_engine(f"sqlite:///{folder / 'replay.db'}")
    migrate(engine)
    sql = SelfIssuedAuthenticator(resolver, PROVIDER, SqlReplayStore(engine, CLOCK), CLOCK)
    memory.authenticate(plain.token_for(PROVIDER))  # warm the DID cache
    key = jwk.JWK(**public_jwk(CONSUMER.p256))

    def one_round() -> dict[str, float]:
        tokens = [plain.token_for(PROVIDER) for _ in range(COUNT)]
        raw = [t.removeprefix("Bearer ") for t in tokens]
        more = [plain.token_for(PROVIDER) for _ in range(COUNT // 4)]

        def jwcrypto_verify(i: int) -> None:
            token = jws.JWS()
            token.deserialize(raw[i])
            token.verify(key)

        return {
            "issue (ES256)": _rate(lambda _: plain.token_for(PROVIDER), COUNT),
            "issue with token claim": _rate(lambda _: with_access.token_for(PROVIDER), COUNT),
            "raw jwcrypto verify": _rate(jwcrypto_verify, COUNT),
            "verify, memory replay": _rate(lambda i: memory.authenticate(tokens[i]), COUNT),
            "verify, SQLite replay": _rate(lambda i: sql.authenticate(more[i]), COUNT // 4),
        }

    results: dict[str, list[float]] = {}
    for _ in range(ROUNDS):
        for name, value in one_round().items():
            results.setdefault(name, []).append(value)
    medians = {name: statistics.median(values) for name, values in results.items()}
    baseline = medians["raw jwcrypto verify"]
    print(f"{'operation':<28}{'per second':>12}{'vs jwcrypto':>14}")
    for name, value in medians.items():
        print(f"{name:<28}{value:>12.0f}{value / baseline:>13.2f}x")
    print(f"DID document fetches: {fetcher.fetches} (warm cache)")
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
