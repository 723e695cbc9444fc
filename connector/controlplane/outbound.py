"""The DSP messages this side sends: URL (HTTPS binding paths) and body, as outbox rows.

Paths (DSP 2025-1 HTTPS binding), relative to the counterpart's DSP base — the provider's
``counterPartyAddress``, or the consumer's ``callbackAddress``:

- consumer → provider: ``/negotiations/request`` (initial),
  ``/negotiations/{providerPid}/request|events|agreement/verification|termination``,
  ``/transfers/request``, ``/transfers/{providerPid}/start|completion|suspension|termination``;
- provider → consumer: ``/negotiations/{consumerPid}/offers|agreement|events|termination``,
  ``/transfers/{consumerPid}/start|completion|suspension|termination``.
"""

from __future__ import annotations

from typing import Any

from connector.controlplane.ports import OutboxMessage
from connector.dsp import negotiation as wn
from connector.dsp import transfer as wt
from connector.dsp.base import RootMessage
from connector.dsp.codec import serialize
from connector.dsp.conversion import agreement_to_wire, data_address_to_wire, message_offer
from connector.errors import Conflict
from connector.model.negotiation import Negotiation, NegotiationEvent
from connector.model.process import Role, Termination
from connector.model.transfer import Transfer, TransferEvent

_TRANSFER_PATHS = {
    TransferEvent.START: "start",
    TransferEvent.COMPLETE: "completion",
    TransferEvent.SUSPEND: "suspension",
    TransferEvent.TERMINATE: "termination",
}


def _base(address: str) -> str:
    return address.rstrip("/")


def _reason(reason: str | None) -> list[str] | None:
    return [reason] if reason else None


def own_termination(role: Role, reason: str | None) -> Termination:
    """What this side states when it terminates a process (as its message carries it)."""
    return Termination(role, "terminated" if reason else None, tuple(_reason(reason) or ()))


def received_termination(role: Role, code: str | None, reasons: list[Any] | None) -> Termination:
    """What the counterpart stated in its termination message (kept as received)."""
    sender = Role.PROVIDER if role is Role.CONSUMER else Role.CONSUMER
    return Termination(sender, code, tuple(reasons or ()))


def negotiation_message(
    n: Negotiation, event: NegotiationEvent, *, callback_url: str, reason: str | None = None
) -> OutboxMessage:
    """The outbox row for ``event`` of negotiation ``n`` (``n`` already has it pending)."""
    base = _base(n.counterparty_address)
    consumer_pid = n.consumer_pid or ""
    provider_pid = n.provider_pid or ""
    body: RootMessage
    if event is NegotiationEvent.REQUEST:
        if n.offer is None:
            raise Conflict("the negotiation has no offer to request", reason="no_offer")
        offer = message_offer(n.offer)
        if n.provider_pid is None:
            url = f"{base}/negotiations/request"
            body = wn.ContractRequestMessage(
                consumer_pid=consumer_pid, offer=offer, callback_address=callback_url
            )
        else:
            url = f"{base}/negotiations/{provider_pid}/request"
            body = wn.ContractRequestMessage(
                consumer_pid=consumer_pid, provider_pid=provider_pid, offer=offer
            )
    elif event is NegotiationEvent.OFFER:
        if n.offer is None:
            raise Conflict("the negotiation has no offer", reason="no_offer")
        url = f"{base}/negotiations/{consumer_pid}/offers"
        body = wn.ContractOfferMessage(
            provider_pid=provider_pid, consumer_pid=consumer_pid, offer=message_offer(n.offer)
        )
    elif event is NegotiationEvent.AGREE:
        if n.agreement is None:
            raise Conflict("the negotiation has no agreement", reason="no_agreement")
        url = f"{base}/negotiations/{consumer_pid}/agreement"
        body = wn.ContractAgreementMessage(
            provider_pid=provider_pid,
            consumer_pid=consumer_pid,
            agreement=agreement_to_wire(n.agreement),
        )
    elif event in (NegotiationEvent.ACCEPT, NegotiationEvent.FINALIZE):
        counterpart = provider_pid if n.role is Role.CONSUMER else consumer_pid
        url = f"{base}/negotiations/{counterpart}/events"
        body = wn.ContractNegotiationEventMessage(
            provider_pid=provider_pid,
            consumer_pid=consumer_pid,
            event_type="ACCEPTED" if event is NegotiationEvent.ACCEPT else "FINALIZED",
        )
    elif event is NegotiationEvent.VERIFY:
        url = f"{base}/negotiations/{provider_pid}/agreement/verification"
        body = wn.ContractAgreementVerificationMessage(
            provider_pid=provider_pid, consumer_pid=consumer_pid
        )
    else:
        counterpart = provider_pid if n.role is Role.CONSUMER else consumer_pid
        url = f"{base}/negotiations/{counterpart}/termination"
        body = wn.ContractNegotiationTerminationMessage(
            provider_pid=provider_pid,
            consumer_pid=consumer_pid,
            code="terminated" if reason else None,
            reason=_reason(reason),
        )
    return OutboxMessage(
        process_kind="negotiation",
        process_id=n.id,
        event=event.value,
        url=url,
        audience=n.counterparty_id,
        body=serialize(body),
    )


def transfer_message(
    t: Transfer, event: TransferEvent, *, callback_url: str, reason: str | None = None
) -> OutboxMessage:
    """The outbox row for ``event`` of transfer ``t`` (``t`` already has it pending)."""
    base = _base(t.counterparty_address)
    consumer_pid = t.consumer_pid or ""
    provider_pid = t.provider_pid or ""
    body: RootMessage
    if event is TransferEvent.REQUEST:
        url = f"{base}/transfers/request"
        body = wt.TransferRequestMessage(
            consumer_pid=consumer_pid,
            agreement_id=t.agreement_id,
            format=t.format,
            callback_address=callback_url,
            data_address=None if t.data_address is None else data_address_to_wire(t.data_address),
        )
    else:
        counterpart = provider_pid if t.role is Role.CONSUMER else consumer_pid
        url = f"{base}/transfers/{counterpart}/{_TRANSFER_PATHS[event]}"
        both = {"provider_pid": provider_pid, "consumer_pid": consumer_pid}
        if event is TransferEvent.START:
            address = None
            if t.role is Role.PROVIDER and t.data_address is not None and t.format.endswith("PULL"):
                address = data_address_to_wire(t.data_address)
            body = wt.TransferStartMessage(**both, data_address=address)
        elif event is TransferEvent.COMPLETE:
            body = wt.TransferCompletionMessage(**both)
        elif event is TransferEvent.SUSPEND:
            body = wt.TransferSuspensionMessage(
                **both, code="suspended" if reason else None, reason=_reason(reason)
            )
        else:
            body = wt.TransferTerminationMessage(
                **both, code="terminated" if reason else None, reason=_reason(reason)
            )
    return OutboxMessage(
        process_kind="transfer",
        process_id=t.id,
        event=event.value,
        url=url,
        audience=t.counterparty_id,
        body=serialize(body),
    )
