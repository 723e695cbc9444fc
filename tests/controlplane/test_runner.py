"""The outbox runner: acknowledgement, retries with exponential backoff, giving up, waking.

The counterparty is scripted (it stands for a remote participant, not for a part of ours);
store, use cases and runner are the real ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

from connector.controlplane.negotiations import Negotiations
from connector.controlplane.ports import HttpResult
from connector.controlplane.runner import Runner, refusal
from connector.errors import Unavailable
from connector.model.contract import Offer
from connector.model.negotiation import NegotiationState
from connector.stores.controlplane_store import SqlControlPlaneStore

from .conftest import PARTNER, US, Plane

REFUSAL = {
    "@type": "ContractNegotiationError",
    "code": "offer_modified",
    "reason": ["the offer differs", {"@value": "das Angebot weicht ab", "@language": "de"}],
}


class Counterparty:
    """Answers POSTs from a script of statuses (``None`` = transport failure)."""

    def __init__(self, *answers: int | None) -> None:
        self.answers = list(answers)
        self.received: list[tuple[str, Mapping[str, Any], Mapping[str, str]]] = []
        self.delivered = threading.Event()

    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        self.received.append((url, body, headers))
        status = self.answers.pop(0) if self.answers else 200
        if status is None:
            raise Unavailable("connection refused", reason="transport")
        self.delivered.set()
        if status >= 400:
            return HttpResult(status, REFUSAL)
        return HttpResult(status, {"providerPid": "urn:uuid:p1", "state": "REQUESTED"})

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult:
        raise AssertionError("not used")


class Tokens:
    def token_for(self, audience_did: str, *, scopes: Any = ()) -> str:
        return f"Bearer token-for-{audience_did}"


def _runner(plane: Plane, counterparty: Counterparty | Hanging, **kwargs: Any) -> Runner:
    return Runner(
        plane.outbox,
        counterparty,
        Tokens(),
        {"negotiation": plane.negotiations, "transfer": plane.transfers},
        plane.clock,
        owner="test",
        **kwargs,
    )


def _start(plane: Plane) -> str:
    offer = Offer("urn:uuid:o", "remote", {"permission": [{"action": "use"}]})
    n = plane.negotiations.start(
        counterparty_address="https://p.example/dsp", counterparty_id=PARTNER, offer=offer
    )
    return n.id


def test_a_2xx_moves_the_process_and_retires_the_message(plane: Plane) -> None:
    pid = _start(plane)
    counterparty = Counterparty(201)
    assert _runner(plane, counterparty).run_once() == 1
    url, body, headers = counterparty.received[0]
    assert url == "https://p.example/dsp/negotiations/request"
    assert body["@type"] == "ContractRequestMessage"
    assert headers["authorization"] == f"Bearer token-for-{PARTNER}"
    n = plane.queries.negotiation(pid)
    assert n is not None and n.state is NegotiationState.REQUESTED
    assert n.provider_pid == "urn:uuid:p1"
    assert plane.outbox.pending_count() == 0


def test_failures_are_retried_with_exponential_backoff(plane: Plane) -> None:
    pid = _start(plane)
    counterparty = Counterparty(None, 503, 200)
    runner = _runner(plane, counterparty, base_delay=1.0)
    assert runner.run_once() == 1
    assert runner.run_once() == 0  # not due before the backoff
    plane.clock.advance(1.0)
    assert runner.run_once() == 1  # second attempt: 503
    plane.clock.advance(1.5)
    assert runner.run_once() == 0  # the next delay is 2 s
    plane.clock.advance(0.5)
    assert runner.run_once() == 1
    assert len(counterparty.received) == 3
    n = plane.queries.negotiation(pid)
    assert n is not None and n.state is NegotiationState.REQUESTED
    assert [runner.backoff(a) for a in range(4)] == [1.0, 2.0, 4.0, 8.0]


def test_a_refusal_or_running_out_of_attempts_gives_the_message_up(plane: Plane) -> None:
    refused = _start(plane)
    _runner(plane, Counterparty(400)).run_once()
    n = plane.queries.negotiation(refused)
    assert n is not None and n.state is NegotiationState.TERMINATED
    assert n.undelivered is not None  # the counterparty's code and reasons are kept
    assert (n.undelivered.message, n.undelivered.status, n.undelivered.code) == (
        "ContractRequestMessage",
        400,
        "offer_modified",
    )
    assert n.undelivered.reason == "the offer differs; das Angebot weicht ab"
    assert n.termination is not None and n.termination.code == "offer_modified"
    exhausted = _start(plane)
    runner = _runner(plane, Counterparty(None, None, None), max_attempts=2, base_delay=0.1)
    runner.run_once()
    plane.clock.advance(1)
    runner.run_once()
    n = plane.queries.negotiation(exhausted)
    assert n is not None and n.state is NegotiationState.TERMINATED
    assert n.undelivered is not None and n.undelivered.code == "out_of_attempts"
    assert n.undelivered.status is None
    assert n.undelivered.reason.startswith("no answer after 2 attempts (last: transport")
    assert plane.outbox.pending_count() == 0


def test_the_runner_thread_wakes_when_a_message_is_queued(plane: Plane) -> None:
    counterparty = Counterparty()
    runner = _runner(plane, counterparty, idle_seconds=3600)
    plane.store.on_enqueue(lambda _messages: runner.wake())
    runner.start()
    try:
        _start(plane)
        assert counterparty.delivered.wait(timeout=30)
    finally:
        runner.stop()


def _leasing(
    plane: Plane, counterparty: Counterparty | Hanging, **kwargs: Any
) -> tuple[Runner, Negotiations, Offer]:
    """A runner whose store leases the messages it commits to it (as in a connector)."""
    runner = _runner(plane, counterparty, idle_seconds=3600, **kwargs)
    store = SqlControlPlaneStore(plane.store.engine, plane.clock, owner=runner.owner)
    store.on_enqueue(runner.accept)
    negotiations = Negotiations(
        store, plane.clock, plane.catalog, own_did=US, callback_url="https://us/api/dsp"
    )
    return runner, negotiations, Offer("urn:uuid:o", "remote", {"permission": [{"action": "use"}]})


def test_messages_leased_at_commit_are_handed_to_the_runner(plane: Plane) -> None:
    counterparty = Counterparty()
    runner, negotiations, offer = _leasing(plane, counterparty)
    runner.start()
    try:
        n = negotiations.start(
            counterparty_address="https://p.example/dsp", counterparty_id=PARTNER, offer=offer
        )
        assert counterparty.delivered.wait(timeout=30)
    finally:
        runner.stop()
    acked = plane.queries.negotiation(n.id)
    assert acked is not None and acked.state is NegotiationState.REQUESTED


def test_messages_committed_while_holding_leave_when_released(plane: Plane) -> None:
    counterparty = Counterparty()
    runner, negotiations, offer = _leasing(plane, counterparty)
    runner.start()
    try:
        with runner.holding() as held:
            negotiations.start(
                counterparty_address="https://p.example/dsp", counterparty_id=PARTNER, offer=offer
            )
        assert [m.event for m in held] == ["ContractRequestMessage"]
        assert not counterparty.delivered.wait(timeout=0.3)  # held: nothing was sent
        runner.release(held)
        assert held == []  # released once
        assert counterparty.delivered.wait(timeout=30)
        runner.release(held)  # a second release sends nothing more
    finally:
        runner.stop()
    assert len(counterparty.received) == 1


class Hanging:
    """``dead.example`` does not answer until ``release`` is set (then: no connection);
    ``p.example`` answers at once. Records the most deliveries to the dead host at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.dead_now = 0
        self.dead_most = 0
        self.dead_calls = 0
        self.alive = threading.Event()

    def post_json(
        self, url: str, body: Mapping[str, Any], *, headers: Mapping[str, str]
    ) -> HttpResult:
        if "dead.example" not in url:
            self.alive.set()
            return HttpResult(201, {"providerPid": "urn:uuid:p1", "state": "REQUESTED"})
        with self.lock:
            self.dead_now += 1
            self.dead_calls += 1
            self.dead_most = max(self.dead_most, self.dead_now)
        try:
            self.release.wait(30)
            raise Unavailable("timed out", reason="transport")
        finally:
            with self.lock:
                self.dead_now -= 1

    def get_json(self, url: str, *, headers: Mapping[str, str]) -> HttpResult:
        raise AssertionError("not used")


def test_a_counterparty_that_does_not_answer_holds_one_delivery_thread(plane: Plane) -> None:
    counterparty = Hanging()
    # no retry within the test; fewer delivery threads than messages to the dead host
    runner, negotiations, offer = _leasing(plane, counterparty, base_delay=3600, workers=4)

    def start(address: str) -> None:
        negotiations.start(counterparty_address=address, counterparty_id=PARTNER, offer=offer)

    runner.start()
    try:
        counterparty.release.set()  # the first attempt fails at once: the host is failing now
        start("https://dead.example/dsp")
        deadline = time.monotonic() + 30
        while counterparty.dead_calls < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # its outcome is recorded
        counterparty.release.clear()
        for _ in range(6):
            start("https://dead.example/dsp")  # one is tried, five wait behind it
        start("https://p.example/dsp")
        assert counterparty.alive.wait(10)  # a thread was free for the healthy counterparty
        assert counterparty.dead_most == 1
        counterparty.release.set()
        deadline = time.monotonic() + 30
        while counterparty.dead_calls < 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert counterparty.dead_calls == 7  # every waiting message got its attempt, in turn
        assert counterparty.dead_most == 1
    finally:
        counterparty.release.set()
        runner.stop()


def test_a_refusal_reason_is_read_from_any_error_body_and_kept_short() -> None:
    assert refusal({"code": "x", "reason": "plain"}) == ("x", "plain")
    assert refusal({"reason": []}) == (None, "no reason given")
    assert refusal("<html>teapot</html>") == (None, "the counterparty gave no DSP error body")
    code, reason = refusal({"code": "c" * 1000, "reason": ["r" * 10_000]})
    assert code == "c" * 100 and reason == "r" * 300  # one reason: at most 300 characters
