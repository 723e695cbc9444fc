"""Negotiation and transfer entities: full flows in both roles, pending messages and their
acknowledgement, crossing messages, terminal states, and an invariant check over random runs."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.errors import Conflict, Invalid
from connector.model import (
    NEGOTIATION_TRANSITIONS,
    TRANSFER_TRANSITIONS,
    Agreement,
    DataAddress,
    Dataset,
    Negotiation,
    NegotiationEvent,
    NegotiationState,
    Offer,
    Role,
    Transfer,
    TransferEvent,
    TransferState,
)

AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
E = NegotiationEvent
S = NegotiationState
T = TransferEvent
TS = TransferState
OFFER = Offer(id="urn:offer:1", target="urn:ds:1", policy={"permission": [{"action": "use"}]})
AGREEMENT = Agreement(
    id="urn:agreement:1",
    target="urn:ds:1",
    assigner="did:web:p.example",
    assignee="did:web:c.example",
    timestamp=AT,
    policy={"permission": [{"action": "use"}]},
)


def negotiation(role: Role, *, counterpart_pid: str | None = None) -> Negotiation:
    own = "urn:c:1" if role is Role.CONSUMER else "urn:p:1"
    return Negotiation.create(
        id=own,
        role=role,
        counterparty_id="did:web:other.example",
        counterparty_address="http://127.0.0.1:9/dsp",
        dataset_id="urn:ds:1",
        at=AT,
        counterpart_pid=counterpart_pid,
        offer=OFFER,
    )


def transfer(role: Role) -> Transfer:
    return Transfer.create(
        id="urn:tc:1" if role is Role.CONSUMER else "urn:tp:1",
        role=role,
        counterparty_id="did:web:other.example",
        counterparty_address="http://127.0.0.1:9/dsp",
        agreement_id="urn:agreement:1",
        format="HttpData-PULL",
        at=AT,
        counterpart_pid="urn:tc:1" if role is Role.PROVIDER else None,
    )


def test_consumer_negotiation_flow_via_offer() -> None:
    n = negotiation(Role.CONSUMER).send(E.REQUEST)
    assert (n.state, n.pending, n.provider_pid) == (None, E.REQUEST, None)
    n = n.acknowledge(E.REQUEST, at=AT, counterpart_pid="urn:p:1")
    assert (n.state, n.pending, n.provider_pid) == (S.REQUESTED, None, "urn:p:1")
    n = n.receive(E.OFFER, at=AT)
    n = n.send(E.ACCEPT).acknowledge(E.ACCEPT, at=AT)
    n = n.receive(E.AGREE, at=AT, agreement=AGREEMENT)
    assert n.agreement == AGREEMENT
    n = n.send(E.VERIFY).acknowledge(E.VERIFY, at=AT)
    n = n.receive(E.FINALIZE, at=AT)
    assert n.state is S.FINALIZED and n.is_terminal
    assert [step.after for step in n.history] == [
        S.REQUESTED,
        S.OFFERED,
        S.ACCEPTED,
        S.AGREED,
        S.VERIFIED,
        S.FINALIZED,
    ]
    assert [step.sender for step in n.history] == [Role.CONSUMER, Role.PROVIDER] * 3


def test_provider_negotiation_flow_direct_agreement() -> None:
    n = negotiation(Role.PROVIDER, counterpart_pid="urn:c:1").receive(E.REQUEST, at=AT)
    assert (n.state, n.consumer_pid, n.provider_pid) == (S.REQUESTED, "urn:c:1", "urn:p:1")
    n = n.send(E.AGREE, agreement=AGREEMENT).acknowledge(E.AGREE, at=AT)
    n = n.receive(E.VERIFY, at=AT)
    n = n.send(E.FINALIZE)
    assert n.state is S.VERIFIED  # reported state waits for the consumer's ack
    assert n.acknowledge(E.FINALIZE, at=AT).state is S.FINALIZED


def test_a_reply_that_overtakes_the_ack_implies_it() -> None:
    """The consumer can only verify after it received (and acked) our agreement."""
    n = negotiation(Role.PROVIDER, counterpart_pid="urn:c:1").receive(E.REQUEST, at=AT)
    n = n.send(E.AGREE)
    n = n.receive(E.VERIFY, at=AT)
    assert (n.state, n.pending) == (S.VERIFIED, None)
    assert [step.after for step in n.history] == [S.REQUESTED, S.AGREED, S.VERIFIED]
    assert n.acknowledge(E.AGREE, at=AT) == n  # the late ack is stale


def test_only_one_message_may_be_pending_but_termination_supersedes() -> None:
    n = negotiation(Role.CONSUMER, counterpart_pid="urn:p:1")
    n = n.send(E.REQUEST).acknowledge(E.REQUEST, at=AT).receive(E.OFFER, at=AT).send(E.ACCEPT)
    with pytest.raises(Conflict) as caught:
        n.send(E.REQUEST)
    assert caught.value.reason == "message_pending"
    n = n.send(E.TERMINATE)
    assert (n.state, n.pending) == (S.OFFERED, E.TERMINATE)
    assert n.send(E.TERMINATE) == n
    with pytest.raises(Conflict) as caught:
        n.send(E.ACCEPT)
    assert caught.value.reason == "terminating"
    assert n.acknowledge(E.ACCEPT, at=AT) == n  # dropped message: its ack changes nothing
    assert n.acknowledge(E.TERMINATE, at=AT).state is S.TERMINATED


def test_counterpart_termination_drops_our_pending_message() -> None:
    n = negotiation(Role.PROVIDER, counterpart_pid="urn:c:1").receive(E.REQUEST, at=AT)
    n = n.send(E.OFFER)
    n = n.receive(E.TERMINATE, at=AT)
    assert (n.state, n.pending) == (S.TERMINATED, None)
    assert n.acknowledge(E.OFFER, at=AT) == n


@pytest.mark.parametrize(
    ("role", "steps", "illegal"),
    [
        # TCK CN:03-01: finalized, then the consumer terminates
        (
            Role.PROVIDER,
            [("r", E.REQUEST), ("s", E.AGREE), ("r", E.VERIFY), ("s", E.FINALIZE)],
            E.TERMINATE,
        ),
        # CN:03-02: offer sent, consumer verifies
        (Role.PROVIDER, [("r", E.REQUEST), ("s", E.OFFER)], E.VERIFY),
        # CN:03-03: offer accepted, consumer verifies
        (Role.PROVIDER, [("r", E.REQUEST), ("s", E.OFFER), ("r", E.ACCEPT)], E.VERIFY),
        # CN:03-04: counter-request twice
        (Role.PROVIDER, [("r", E.REQUEST), ("s", E.OFFER), ("r", E.REQUEST)], E.REQUEST),
        # CN_C:03-01: request, provider finalizes
        (Role.CONSUMER, [("s", E.REQUEST)], E.FINALIZE),
        # CN_C:03-02: offered, provider agrees
        (Role.CONSUMER, [("s", E.REQUEST), ("r", E.OFFER)], E.AGREE),
        # CN_C:03-05: accepted, provider offers
        (Role.CONSUMER, [("s", E.REQUEST), ("r", E.OFFER), ("s", E.ACCEPT)], E.OFFER),
        # CN_C:03-06: agreed, provider finalizes before verification
        (
            Role.CONSUMER,
            [("s", E.REQUEST), ("r", E.OFFER), ("s", E.ACCEPT), ("r", E.AGREE)],
            E.FINALIZE,
        ),
    ],
)
def test_tck_negative_negotiation_scenarios_are_refused(
    role: Role, steps: list[tuple[str, NegotiationEvent]], illegal: NegotiationEvent
) -> None:
    n = negotiation(role, counterpart_pid="urn:other")
    for kind, event in steps:
        n = n.receive(event, at=AT) if kind == "r" else n.send(event).acknowledge(event, at=AT)
    before = n
    with pytest.raises(Conflict):
        n.receive(illegal, at=AT)
    assert n == before


def test_counterpart_pid_cannot_change() -> None:
    n = (
        negotiation(Role.CONSUMER)
        .send(E.REQUEST)
        .acknowledge(E.REQUEST, at=AT, counterpart_pid="urn:p:1")
    )
    with pytest.raises(Conflict) as caught:
        n.receive(E.OFFER, at=AT, counterpart_pid="urn:p:other")
    assert caught.value.reason == "pid_mismatch"


def test_abort_only_before_the_counterpart_knows() -> None:
    n = negotiation(Role.CONSUMER).send(E.REQUEST)
    aborted = n.abort(at=AT)
    assert (aborted.state, aborted.pending) == (S.TERMINATED, None)
    with pytest.raises(Conflict):
        n.acknowledge(E.REQUEST, at=AT).abort(at=AT)
    t = transfer(Role.CONSUMER).send(T.REQUEST)
    assert t.abort(at=AT).state is TS.TERMINATED
    assert t.drop_pending().pending is None


def test_transfer_flows_with_resume_by_either_side() -> None:
    address = DataAddress("HTTP", "https://p.example/data", {"authorization": "t"})
    c = (
        transfer(Role.CONSUMER)
        .send(T.REQUEST)
        .acknowledge(T.REQUEST, at=AT, counterpart_pid="urn:tp:1")
    )
    c = c.receive(T.START, at=AT, data_address=address)
    assert (c.state, c.data_address) == (TS.STARTED, address)
    c = c.send(T.SUSPEND).acknowledge(T.SUSPEND, at=AT)
    c = c.send(T.START).acknowledge(T.START, at=AT)  # TCK TP:02-04: consumer resumes
    assert c.state is TS.STARTED
    p = transfer(Role.PROVIDER).receive(T.REQUEST, at=AT)
    with pytest.raises(Conflict):
        p.receive(T.START, at=AT)  # a consumer cannot start a requested transfer
    p = p.send(T.START).acknowledge(T.START, at=AT).receive(T.SUSPEND, at=AT)
    with pytest.raises(Conflict):
        p.receive(T.COMPLETE, at=AT)  # TCK TP:03-03: suspended, then completed
    p = p.receive(T.START, at=AT).receive(T.COMPLETE, at=AT)
    assert p.is_terminal
    for event in TransferEvent:  # TCK TP:03-04..06
        with pytest.raises(Conflict):
            p.receive(event, at=AT)


def test_crossing_transfer_messages() -> None:
    c = transfer(Role.CONSUMER).send(T.REQUEST).acknowledge(T.REQUEST, at=AT)
    c = c.receive(T.START, at=AT).send(T.SUSPEND)
    both_suspend = c.receive(T.SUSPEND, at=AT)
    assert (both_suspend.state, both_suspend.pending) == (TS.SUSPENDED, None)
    completed = c.receive(T.COMPLETE, at=AT)
    assert (completed.state, completed.pending) == (TS.COMPLETED, None)
    c = c.drop_pending().send(T.TERMINATE)
    still = c.receive(T.SUSPEND, at=AT)  # our termination stays pending; legal from SUSPENDED
    assert (still.state, still.pending) == (TS.SUSPENDED, T.TERMINATE)


def test_dataset_checks_its_offers() -> None:
    item = Dataset(id="urn:ds:1", title="Bäume", offers=(OFFER,))
    assert item.offer("urn:offer:1") == OFFER and item.offer("nope") is None
    with pytest.raises(Invalid):
        Dataset(id="urn:ds:2", title="x", offers=(OFFER,))
    with pytest.raises(Invalid):
        Dataset(id="urn:ds:1", title="x", offers=())
    with pytest.raises(Invalid):
        Agreement(id="a", target="t", assigner="p", assignee="c", timestamp=AT.replace(tzinfo=None))


_NEG_OPS = st.lists(
    st.tuples(
        st.sampled_from(["send", "ack", "receive", "drop"]), st.sampled_from(list(NegotiationEvent))
    ),
    max_size=25,
)
_TRANSFER_OPS = st.lists(
    st.tuples(
        st.sampled_from(["send", "ack", "receive", "drop"]), st.sampled_from(list(TransferEvent))
    ),
    max_size=25,
)


def _run(entity, ops):  # type: ignore[no-untyped-def]
    for op, event in ops:
        try:
            if op == "send":
                entity = entity.send(event)
            elif op == "ack":
                entity = entity.acknowledge(event, at=AT)
            elif op == "receive":
                entity = entity.receive(event, at=AT)
            else:
                entity = entity.drop_pending()
        except Conflict:
            pass
    return entity


def _check_history(entity, table) -> None:  # type: ignore[no-untyped-def]
    previous = None
    for step in entity.history:
        assert step.before == previous
        assert table.target(step.before, step.event, step.sender) is step.after
        previous = step.after
    assert entity.state == previous
    if entity.pending is not None:
        assert table.allows(entity.state, entity.pending, entity.role)


@settings(max_examples=200, deadline=None)
@given(role=st.sampled_from(list(Role)), ops=_NEG_OPS)
def test_random_negotiation_runs_only_take_table_moves(role: Role, ops) -> None:  # type: ignore[no-untyped-def]
    _check_history(_run(negotiation(role), ops), NEGOTIATION_TRANSITIONS)


@settings(max_examples=200, deadline=None)
@given(role=st.sampled_from(list(Role)), ops=_TRANSFER_OPS)
def test_random_transfer_runs_only_take_table_moves(role: Role, ops) -> None:  # type: ignore[no-untyped-def]
    _check_history(_run(transfer(role), ops), TRANSFER_TRANSITIONS)
