"""Domain values ⇄ JSON documents, as the control-plane tables keep them.

Each entity is stored as one JSON document (the ``body`` column) next to the columns that are
queried (state, role, pids …). These functions are the only place that knows the layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from connector import jsontext
from connector.clock import parse_instant, utc_isoformat
from connector.model.contract import Agreement, Offer
from connector.model.dataset import Dataset, Mode
from connector.model.negotiation import (
    ContractCheck,
    Negotiation,
    NegotiationEvent,
    NegotiationState,
)
from connector.model.process import Role, Step, Termination, Undelivered
from connector.model.transfer import DataAddress, Transfer, TransferEvent, TransferState

T = TypeVar("T")


def offer_json(offer: Offer) -> dict[str, Any]:
    """An offer as a JSON document."""
    return {
        "id": offer.id,
        "target": offer.target,
        "policy": dict(offer.policy),
        "policyId": offer.policy_id,
        "policyHash": offer.policy_hash,
    }


def offer_from(doc: dict[str, Any]) -> Offer:
    """The offer of :func:`offer_json`."""
    return Offer(
        id=doc["id"],
        target=doc["target"],
        policy=doc["policy"],
        policy_id=doc.get("policyId"),
        policy_hash=doc.get("policyHash"),
    )


def agreement_json(agreement: Agreement) -> dict[str, Any]:
    """An agreement as a JSON document."""
    return {
        "id": agreement.id,
        "target": agreement.target,
        "assigner": agreement.assigner,
        "assignee": agreement.assignee,
        "timestamp": utc_isoformat(agreement.timestamp),
        "policy": dict(agreement.policy),
        "offerId": agreement.offer_id,
        "policyId": agreement.policy_id,
        "policyHash": agreement.policy_hash,
    }


def agreement_from(doc: dict[str, Any]) -> Agreement:
    """The agreement of :func:`agreement_json`."""
    return Agreement(
        id=doc["id"],
        target=doc["target"],
        assigner=doc["assigner"],
        assignee=doc["assignee"],
        timestamp=parse_instant(doc["timestamp"]),
        policy=doc["policy"],
        offer_id=doc.get("offerId"),
        policy_id=doc.get("policyId"),
        policy_hash=doc.get("policyHash"),
    )


def _steps(history: tuple[Step[Any, Any], ...]) -> list[dict[str, Any]]:
    return [
        {
            "at": utc_isoformat(s.at),
            "event": s.event.value,
            "sender": s.sender.value,
            "before": None if s.before is None else s.before.value,
            "after": s.after.value,
        }
        for s in history
    ]


def termination_json(termination: Termination | None) -> dict[str, Any] | None:
    """Why a process was terminated, as JSON (``None`` if it was not)."""
    if termination is None:
        return None
    return {
        "sender": termination.sender.value,
        "code": termination.code,
        "reason": list(termination.reasons),
    }


def termination_from(doc: dict[str, Any] | None) -> Termination | None:
    """The termination of :func:`termination_json` (absent in documents written before it)."""
    if not doc:
        return None
    return Termination(Role(doc["sender"]), doc.get("code"), tuple(doc.get("reason") or ()))


def undelivered_json(why: Undelivered | None) -> dict[str, Any] | None:
    """A given-up message and why, as JSON (``None`` if none was given up)."""
    if why is None:
        return None
    return {
        "message": why.message,
        "at": utc_isoformat(why.at),
        "status": why.status,
        "code": why.code,
        "reason": why.reason,
    }


def undelivered_from(doc: dict[str, Any] | None) -> Undelivered | None:
    """The value of :func:`undelivered_json` (absent in documents written before it)."""
    if not doc:
        return None
    return Undelivered(
        doc["message"], parse_instant(doc["at"]), doc["reason"], doc.get("status"), doc.get("code")
    )


def negotiation_json(n: Negotiation) -> dict[str, Any]:
    """A negotiation as a JSON document."""
    return {
        "id": n.id,
        "role": n.role.value,
        "counterpartyId": n.counterparty_id,
        "counterpartyAddress": n.counterparty_address,
        "datasetId": n.dataset_id,
        "createdAt": utc_isoformat(n.created_at),
        "consumerPid": n.consumer_pid,
        "providerPid": n.provider_pid,
        "state": None if n.state is None else n.state.value,
        "pending": None if n.pending is None else n.pending.value,
        "offer": None if n.offer is None else offer_json(n.offer),
        "agreement": None if n.agreement is None else agreement_json(n.agreement),
        "history": _steps(n.history),
        "termination": termination_json(n.termination),
        "undelivered": undelivered_json(n.undelivered),
        "check": None
        if n.check is None
        else {"permitted": n.check.permitted, "explanation": n.check.explanation},
    }


def negotiation_from(doc: dict[str, Any]) -> Negotiation:
    """The negotiation of :func:`negotiation_json`."""
    history = tuple(
        Step(
            parse_instant(s["at"]),
            NegotiationEvent(s["event"]),
            Role(s["sender"]),
            None if s["before"] is None else NegotiationState(s["before"]),
            NegotiationState(s["after"]),
        )
        for s in doc["history"]
    )
    return Negotiation(
        id=doc["id"],
        role=Role(doc["role"]),
        counterparty_id=doc["counterpartyId"],
        counterparty_address=doc["counterpartyAddress"],
        dataset_id=doc["datasetId"],
        created_at=parse_instant(doc["createdAt"]),
        consumer_pid=doc["consumerPid"],
        provider_pid=doc["providerPid"],
        state=None if doc["state"] is None else NegotiationState(doc["state"]),
        pending=None if doc["pending"] is None else NegotiationEvent(doc["pending"]),
        offer=None if doc["offer"] is None else offer_from(doc["offer"]),
        agreement=None if doc["agreement"] is None else agreement_from(doc["agreement"]),
        history=history,
        termination=termination_from(doc.get("termination")),
        undelivered=undelivered_from(doc.get("undelivered")),
        check=_check_from(doc.get("check")),
    )


def _check_from(doc: Any) -> ContractCheck | None:
    if not isinstance(doc, dict):
        return None
    return ContractCheck(bool(doc["permitted"]), str(doc.get("explanation", "")))


def _address_json(address: DataAddress | None) -> dict[str, Any] | None:
    if address is None:
        return None
    return {
        "endpointType": address.endpoint_type,
        "endpoint": address.endpoint,
        "properties": dict(address.properties),
    }


def _address_from(doc: dict[str, Any] | None) -> DataAddress | None:
    if doc is None:
        return None
    return DataAddress(doc["endpointType"], doc.get("endpoint"), doc.get("properties", {}))


def transfer_json(t: Transfer) -> dict[str, Any]:
    """A transfer as a JSON document."""
    return {
        "id": t.id,
        "role": t.role.value,
        "counterpartyId": t.counterparty_id,
        "counterpartyAddress": t.counterparty_address,
        "agreementId": t.agreement_id,
        "format": t.format,
        "createdAt": utc_isoformat(t.created_at),
        "consumerPid": t.consumer_pid,
        "providerPid": t.provider_pid,
        "state": None if t.state is None else t.state.value,
        "pending": None if t.pending is None else t.pending.value,
        "dataAddress": _address_json(t.data_address),
        "history": _steps(t.history),
        "termination": termination_json(t.termination),
        "undelivered": undelivered_json(t.undelivered),
    }


def transfer_from(doc: dict[str, Any]) -> Transfer:
    """The transfer of :func:`transfer_json`."""
    history = tuple(
        Step(
            parse_instant(s["at"]),
            TransferEvent(s["event"]),
            Role(s["sender"]),
            None if s["before"] is None else TransferState(s["before"]),
            TransferState(s["after"]),
        )
        for s in doc["history"]
    )
    return Transfer(
        id=doc["id"],
        role=Role(doc["role"]),
        counterparty_id=doc["counterpartyId"],
        counterparty_address=doc["counterpartyAddress"],
        agreement_id=doc["agreementId"],
        format=doc["format"],
        created_at=parse_instant(doc["createdAt"]),
        consumer_pid=doc["consumerPid"],
        provider_pid=doc["providerPid"],
        state=None if doc["state"] is None else TransferState(doc["state"]),
        pending=None if doc["pending"] is None else TransferEvent(doc["pending"]),
        data_address=_address_from(doc["dataAddress"]),
        history=history,
        termination=termination_from(doc.get("termination")),
        undelivered=undelivered_from(doc.get("undelivered")),
    )


def dataset_json(d: Dataset) -> dict[str, Any]:
    """A dataset as a JSON document."""
    return {
        "id": d.id,
        "title": d.title,
        "description": d.description,
        "offers": [offer_json(o) for o in d.offers],
        "formats": list(d.formats),
        "accessPolicy": None if d.access_policy is None else dict(d.access_policy),
        "source": dict(d.source),
        "negotiation": d.negotiation.value,
        "transfer": d.transfer.value,
        "properties": dict(d.properties),
    }


def dataset_from(doc: dict[str, Any]) -> Dataset:
    """The dataset of :func:`dataset_json`."""
    return Dataset(
        id=doc["id"],
        title=doc["title"],
        description=doc.get("description", ""),
        offers=tuple(offer_from(o) for o in doc["offers"]),
        formats=tuple(doc["formats"]),
        access_policy=doc.get("accessPolicy"),
        source=doc.get("source", {}),
        negotiation=Mode(doc["negotiation"]),
        transfer=Mode(doc["transfer"]),
        properties=doc.get("properties", {}),
    )


class StoredValues(Generic[T]):
    """Entities by the JSON text they are stored as: a text read back is parsed once, and the
    text this process saved is known without parsing (entities are immutable values, and a
    changed entity is stored as another text, so an entry is never stale). Values of other
    types (PostgreSQL JSONB arrives decoded; select ``CAST(body AS TEXT)`` to profit) are
    parsed every time."""

    def __init__(self, parse: Callable[[dict[str, Any]], T], size: int = 4096) -> None:
        self._parse = parse
        self._size = size
        self._items: dict[str, T] = {}

    def of(self, stored: Any) -> T:
        """The entity of a stored ``body`` value."""
        if not isinstance(stored, str):
            return self._parse(stored)
        item = self._items.get(stored)
        if item is None:
            item = self._parse(jsontext.loads(stored))
            self.remember(stored, item)
        return item

    def remember(self, text: str, item: T) -> None:
        """``item`` is stored as ``text``."""
        if len(self._items) >= self._size:
            self._items.clear()  # simple bound: the working set refills at once
        self._items[text] = item


NEGOTIATIONS: StoredValues[Negotiation] = StoredValues(negotiation_from)
TRANSFERS: StoredValues[Transfer] = StoredValues(transfer_from)
DATASETS: StoredValues[Dataset] = StoredValues(dataset_from)
