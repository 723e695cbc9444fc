"""Pull tokens (hashed, expiring, revocable, renewable) and enforcement (count, purpose,
validity, geofence, aggregation) on the real SQL stores."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from connector.clock import FixedClock
from connector.dataplane.delivery import Delivery
from connector.dataplane.enforcement import Enforcer
from connector.dataplane.tokens import AccessTokens, TokenRefused, token_hash
from connector.errors import Forbidden, Invalid
from connector.model import Agreement
from connector.stores.dataplane_store import SqlAccessCounter, SqlTokenStore

POLICIES = Path(__file__).resolve().parents[2] / "policies"
CONSUMER = "did:web:partner.example"
TARGET = "https://w3id.org/klimakommune/hagen/datasets/x"


def grant_args() -> dict[str, str]:
    return {
        "transfer_id": "t1",
        "agreement_id": "a1",
        "consumer_did": CONSUMER,
        "dataset_id": TARGET,
    }


def test_tokens_are_stored_hashed_and_expire(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    tokens = AccessTokens(SqlTokenStore(engine), clock, lifetime_seconds=300)
    token, grant = tokens.issue(**grant_args())
    assert token.startswith("kkdp_") and len(token) > 40
    with engine.connect() as conn:
        stored = [tuple(r) for r in conn.execute(text("SELECT * FROM dataplane_tokens"))]
    assert token not in json.dumps(stored)
    assert stored[0][0] == token_hash(token)
    assert tokens.verify(token) == grant
    clock.advance(299)
    assert tokens.verify(token).transfer_id == "t1"
    clock.advance(1)
    with pytest.raises(TokenRefused) as refused:
        tokens.verify(token)
    assert refused.value.cause == "expired_token" and refused.value.status == 401
    for bad in (None, "", "Bearer x", "kkdp_" + "A" * 43, token + "x", token[:-1]):
        with pytest.raises(TokenRefused):
            tokens.verify(bad)


def test_revocation_is_seen_by_every_replica(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    replica_a = AccessTokens(SqlTokenStore(engine), clock)
    replica_b = AccessTokens(SqlTokenStore(engine), clock)
    token, _ = replica_a.issue(**grant_args())
    other, _ = replica_a.issue(**{**grant_args(), "transfer_id": "t2"})
    assert replica_b.verify(token).transfer_id == "t1"
    assert replica_a.revoke("t1") == 1
    with pytest.raises(TokenRefused) as refused:
        replica_b.verify(token)
    assert refused.value.cause == "revoked_token"
    assert replica_b.verify(other).transfer_id == "t2"


def test_renewal_replaces_the_token(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    tokens = AccessTokens(SqlTokenStore(engine), clock, lifetime_seconds=60)
    token, _ = tokens.issue(**grant_args())
    clock.advance(50)
    fresh, grant = tokens.renew(token)
    assert fresh != token and grant.expires_at == clock.now() + dt.timedelta(seconds=60)
    with pytest.raises(TokenRefused):
        tokens.verify(token)
    clock.advance(50)
    assert tokens.verify(fresh).agreement_id == "a1"
    clock.advance(11)
    with pytest.raises(TokenRefused):
        tokens.renew(fresh)


def policy(name: str) -> dict[str, Any]:
    body: dict[str, Any] = json.loads((POLICIES / f"{name}.jsonld").read_text("utf-8"))
    return body


def agreement(name: str, *, at: str = "2026-05-20T00:00:00Z") -> Agreement:
    return Agreement(
        id=f"urn:uuid:agreement-{name}",
        target=TARGET,
        assigner="did:web:daten.hagen.de",
        assignee=CONSUMER,
        timestamp=dt.datetime.fromisoformat(at.replace("Z", "+00:00")),
        policy={"permission": [{"action": "use"}]},
        policy_hash=f"sha256:{name}",
    )


def enforcer(engine: Engine, clock: FixedClock, body: dict[str, Any]) -> Enforcer:
    return Enforcer(SqlAccessCounter(engine), clock, stored_policy=lambda _h: body)


def limited(n: int) -> dict[str, Any]:
    body = policy("max-accesses")
    body["permission"][0]["constraint"][0]["rightOperand"]["@value"] = str(n)
    return body


def test_count_limit_is_counted_in_the_database(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    e = enforcer(engine, clock, limited(3))
    results = [
        e.decide(agreement("max"), Delivery(), consumer=CONSUMER, purpose=None) for _ in range(5)
    ]
    assert [r.permitted for r in results] == [True, True, True, False, False]
    assert [r.prior_accesses for r in results] == [0, 1, 2, 3, 3]
    assert "count lteq 3" in results[3].explanation
    assert SqlAccessCounter(engine).count("urn:uuid:agreement-max") == 3


def test_concurrent_accesses_never_exceed_the_limit(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    replicas = [enforcer(engine, clock, limited(5)) for _ in range(4)]
    allowed: list[bool] = []
    lock = threading.Lock()

    def pull(e: Enforcer) -> None:
        for _ in range(5):
            d = e.decide(agreement("max"), Delivery(), consumer=CONSUMER, purpose=None)
            with lock:
                allowed.append(d.permitted)

    threads = [threading.Thread(target=pull, args=(e,)) for e in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(allowed) == 20 and sum(allowed) == 5


def test_validity_window_and_purpose(engine: Engine) -> None:
    clock = FixedClock("2026-06-19T00:00:00Z")
    e = enforcer(engine, clock, policy("agreement-30-days"))
    assert e.decide(agreement("30d"), Delivery(), consumer=CONSUMER, purpose=None).permitted
    clock.set(dt.datetime(2026, 6, 19, 0, 0, 1, tzinfo=dt.UTC))
    late = e.decide(agreement("30d"), Delivery(), consumer=CONSUMER, purpose=None)
    assert not late.permitted and "elapsedTime" in late.explanation
    p = enforcer(engine, clock, policy("purpose-climate"))
    ok = p.decide(agreement("p"), Delivery(), consumer=CONSUMER, purpose="kk:Energiemanagement")
    assert ok.permitted
    for purpose in (None, "https://w3id.org/dpv#Marketing"):
        no = p.decide(agreement("p"), Delivery(), consumer=CONSUMER, purpose=purpose)
        assert not no.permitted and "purpose" in no.explanation


def test_aggregate_only_needs_the_shaping_the_data_plane_applies(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    e = enforcer(engine, clock, policy("aggregate-only"))
    agg = {"period": "PT1H", "by": ["block_id"], "values": ["v"], "subject": "m"}
    with pytest.raises(Forbidden):  # the dataset cannot aggregate
        e.decide(agreement("agg"), Delivery.parse({"time": "t"}), consumer=CONSUMER, purpose=None)
    weak = Delivery.parse({"time": "t", "aggregate": {**agg, "k": 3}})
    assert not e.decide(agreement("agg"), weak, consumer=CONSUMER, purpose=None).permitted
    fine = Delivery.parse({"time": "t", "aggregate": {**agg, "k": 5}})
    decision = e.decide(agreement("agg"), fine, consumer=CONSUMER, purpose=None)
    assert decision.permitted and decision.plan.aggregate is not None
    coarse = Delivery.parse({"time": "t", "aggregate": {**agg, "k": 5, "period": "PT15M"}})
    assert not e.decide(agreement("agg"), coarse, consumer=CONSUMER, purpose=None).permitted
    # an open policy does not aggregate, unless the dataset always does
    o = enforcer(engine, clock, policy("open-data-dl-de-by-2-0"))
    assert o.decide(agreement("o"), fine, consumer=CONSUMER, purpose=None).plan.aggregate is None
    always = Delivery.parse({"time": "t", "aggregate": {**agg, "k": 5, "always": True}})
    assert o.decide(agreement("o"), always, consumer=CONSUMER, purpose=None).plan.aggregate


def test_geofence_comes_from_the_agreement(engine: Engine) -> None:
    clock = FixedClock("2026-06-01T12:00:00Z")
    e = enforcer(engine, clock, policy("geofence-hagen"))
    with pytest.raises(Forbidden):
        e.decide(agreement("geo"), Delivery(), consumer=CONSUMER, purpose=None)
    d = e.decide(
        agreement("geo"), Delivery.parse({"geofence": {}}), consumer=CONSUMER, purpose=None
    )
    assert d.permitted and d.plan.geofence is not None
    assert d.plan.geofence.covers(__import__("shapely").Point(7.5, 51.27))


def test_partner_only_uses_the_consumers_verified_credentials(engine: Engine) -> None:
    from connector.controlplane.ports import CredentialFact, Facts

    clock = FixedClock("2026-06-01T12:00:00Z")
    fed = CredentialFact(("MembershipCredential",), "did:web:federation.klimakommune.de", CONSUMER)
    other = CredentialFact(("MembershipCredential",), "did:web:self.example", CONSUMER)
    for creds, expected in (((fed,), True), ((other,), False), ((), False)):
        e = Enforcer(
            SqlAccessCounter(engine),
            clock,
            stored_policy=lambda _h: policy("partner-only"),
            facts=lambda did, c=creds: Facts(did, False, c),
        )
        assert (
            e.decide(agreement("partner"), Delivery(), consumer=CONSUMER, purpose=None).permitted
            is expected
        )


def test_the_consumers_facts_are_fetched_before_the_counter_locks(engine: Engine) -> None:
    """Fetching credentials may go over the network: never while the access counter holds the
    database's write lock (on SQLite every other writer would wait for it)."""
    import sqlite3

    from connector.controlplane.ports import Facts

    clock = FixedClock("2026-06-01T12:00:00Z")
    seen: list[bool] = []

    def facts(did: str) -> Facts:
        other = sqlite3.connect(engine.url.database or "", timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once while a writer holds the lock
            other.execute("ROLLBACK")
            seen.append(True)
        except sqlite3.OperationalError:
            seen.append(False)
        finally:
            other.close()
        return Facts(did, False, ())

    e = Enforcer(SqlAccessCounter(engine), clock, stored_policy=lambda _h: limited(3), facts=facts)
    assert e.decide(agreement("max"), Delivery(), consumer=CONSUMER, purpose=None).permitted
    assert seen == [True]


def test_delivery_sections_are_validated() -> None:
    for bad in (
        {"nope": 1},
        {"aggregate": {"values": ["v"]}},
        {"time": "t", "aggregate": {"values": ["v"], "k": 0}},
        {"time": "t", "aggregate": {"values": ["v"], "period": "P1M"}},
        {"time": "t", "aggregate": {"values": ["v"], "function": "max"}},
        {"filters": {"limit": "x"}},
        {"columns": ["a; DROP"]},
    ):
        with pytest.raises(Invalid):
            Delivery.parse(bad)


@pytest.mark.postgres
def test_counter_and_tokens_on_postgresql(postgres_url: str) -> None:
    from connector.stores.database import create_db_engine, migrate

    engine = create_db_engine(postgres_url)
    migrate(engine)
    try:
        clock = FixedClock("2026-06-01T12:00:00Z")
        name = f"pg-{uuid.uuid4()}"
        replicas = [enforcer(engine, clock, limited(5)) for _ in range(4)]
        allowed: list[bool] = []
        lock = threading.Lock()

        def pull(e: Enforcer) -> None:
            for _ in range(4):
                d = e.decide(agreement(name), Delivery(), consumer=CONSUMER, purpose=None)
                with lock:
                    allowed.append(d.permitted)

        threads = [threading.Thread(target=pull, args=(e,)) for e in replicas]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sum(allowed) == 5 and len(allowed) == 16
        tokens = AccessTokens(SqlTokenStore(engine), clock)
        token, _ = tokens.issue(**{**grant_args(), "transfer_id": name})
        assert tokens.verify(token).transfer_id == name
        assert AccessTokens(SqlTokenStore(engine), clock).revoke(name) == 1
        with pytest.raises(TokenRefused):
            tokens.verify(token)
    finally:
        engine.dispose()
