"""Policy decisions of the real use cases land in the trail: contract decisions with the state
change they lead to, transfer re-checks (permitted or refused), each with report digest and
explanation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connector.audit.vocabulary import EventType
from connector.clock import FixedClock
from connector.controlplane.listings import Listings
from connector.controlplane.negotiations import Negotiations
from connector.controlplane.ports import Caller, Facts, OutboxMessage
from connector.controlplane.transfers import Transfers
from connector.dsp import negotiation as wn
from connector.dsp import transfer as wt
from connector.dsp.conversion import message_offer
from connector.errors import Invalid
from connector.stores.audit_store import SqlAuditStore
from connector.stores.catalog_store import SqlCatalogStore
from connector.stores.controlplane_store import SqlControlPlaneStore
from connector.stores.database import create_db_engine, migrate

ROOT = Path(__file__).resolve().parents[2]
US, PARTNER = "did:web:daten.hagen.de", "did:web:partner.example"
CALLBACK = "https://partner.example/api/dsp"


class Provider:
    def __init__(self, tmp_path: Path) -> None:
        engine = create_db_engine(f"sqlite:///{tmp_path / 'cp.db'}")
        migrate(engine)
        self.engine = engine
        self.clock = FixedClock("2026-12-30T08:00:00Z")
        self.audit = SqlAuditStore(engine, self.clock)
        self.store = SqlControlPlaneStore(engine, self.clock)
        self.store.audit = self.audit
        catalog = SqlCatalogStore(engine, self.clock)
        policy = json.loads((ROOT / "policies" / "deletion-by-date.jsonld").read_text("utf-8"))
        self.offer = (
            Listings(catalog)
            .create_dataset(
                {
                    "id": "energy",
                    "title": "Energie",
                    "source": {"type": "file", "path": "e.csv", "mediaType": "text/csv"},
                    "policy": policy,
                }
            )
            .offers[0]
        )
        self.sent: list[OutboxMessage] = []
        self.store.on_enqueue(self.sent.extend)
        self.negotiations = Negotiations(
            self.store, self.clock, catalog, own_did=US, callback_url=CALLBACK
        )
        self.transfers = Transfers(
            self.store, self.clock, catalog, None, own_did=US, callback_url=CALLBACK
        )

    def request(self, consumer_pid: str) -> str:
        msg = wn.ContractRequestMessage(
            consumer_pid=consumer_pid,
            offer=message_offer(self.offer),
            callback_address=CALLBACK,
        )
        n = self.negotiations.requested(Caller(PARTNER), msg, self.facts, visible=lambda d: True)
        return n.id

    def facts(self) -> Facts:
        return Facts(PARTNER, trusted=False)

    def ack(self, pid: str) -> None:
        message = self.sent.pop()
        assert message.id is not None
        self.negotiations.acknowledged(message.id, message.event, pid, None)


@pytest.fixture
def provider(tmp_path: Path) -> Provider:
    return Provider(tmp_path)


def test_contract_and_transfer_decisions_are_recorded(provider: Provider) -> None:
    pid = provider.request("urn:uuid:c1")
    provider.ack(pid)
    verify = wn.ContractAgreementVerificationMessage(consumer_pid="urn:uuid:c1", provider_pid=pid)
    provider.negotiations.verified(Caller(PARTNER), pid, verify)
    provider.ack(pid)
    with provider.store.transaction() as tx:
        n = tx.negotiation(pid)
    assert n is not None and n.agreement is not None
    agreement = n.agreement.id
    provider.clock.advance(3 * 24 * 3600)  # 2027-01-02: the use period has ended
    request = wt.TransferRequestMessage(
        consumer_pid="urn:uuid:t1",
        agreement_id=agreement,
        format="HttpData-PULL",
        callback_address=CALLBACK,
    )
    with pytest.raises(Invalid) as refused:
        provider.transfers.requested(Caller(PARTNER), request, provider.facts)
    assert refused.value.reason == "agreement_not_valid"
    late = provider.request("urn:uuid:c2")  # a new contract is refused too

    entries = provider.audit.query(limit=100)
    kinds = [(e.type, e.result, (e.details or {}).get("to")) for e in entries]
    assert kinds == [
        ("negotiation.state_changed", "ok", "REQUESTED"),
        ("policy.decided", "ok", None),
        ("negotiation.state_changed", "ok", "AGREED"),
        ("negotiation.state_changed", "ok", "VERIFIED"),
        ("negotiation.state_changed", "ok", "FINALIZED"),
        ("policy.decided", "denied", None),
        ("negotiation.state_changed", "ok", "REQUESTED"),
        ("policy.decided", "denied", None),
    ]
    permit, recheck, refusal = (e for e in entries if e.type == EventType.POLICY_DECIDED)
    assert permit.details is not None and permit.details["decision"] == "permit"
    assert permit.details["stage"] == "contract" and permit.process == pid
    assert recheck.details is not None and recheck.details["stage"] == "transfer"
    assert recheck.agreement == agreement and recheck.participant == PARTNER
    assert refusal.details is not None and refusal.process == late
    for decided in (permit, recheck, refusal):
        assert decided.details is not None
        assert len(decided.details["report_digest"]) == 64
        assert decided.details["explanation"]
        assert decided.details["policy_hash"] == provider.offer.policy_hash
    assert recheck.details["report_digest"] != permit.details["report_digest"]
    assert provider.audit.verify(trusted_keys={}).ok
