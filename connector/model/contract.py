"""Offers and agreements: the contract terms a negotiation is about.

The policy itself is kept as compact ODRL JSON (a mapping): its parsing and evaluation belong
to :mod:`connector.policy`, its wire shape to :mod:`connector.dsp`. What the domain needs
here are the identities that bind a negotiation, an agreement and a transfer together.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.errors import Invalid


def _policy_copy(policy: Mapping[str, Any]) -> dict[str, Any]:
    if not isinstance(policy, Mapping):
        raise Invalid("a policy must be a JSON object", reason="invalid_policy")
    return dict(policy)


@dataclass(frozen=True, slots=True)
class Offer:
    """An offer of a dataset under a policy.

    ``id`` is the ODRL ``@id`` (stable per policy version, as published in the catalogue);
    ``target`` the dataset id; ``policy`` the rules in compact ODRL JSON (``permission``,
    ``prohibition``, ``obligation``, ``profile`` …, without ``@id``/``target``);
    ``policy_id`` and ``policy_hash`` name the policy version it was made from, when known.
    """

    id: str
    target: str
    policy: Mapping[str, Any] = field(default_factory=dict)
    policy_id: str | None = None
    policy_hash: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", _policy_copy(self.policy))
        if not self.id or not self.target:
            raise Invalid("an offer needs an id and a target", reason="invalid_offer")


@dataclass(frozen=True, slots=True)
class Agreement:
    """A contract agreement: the policy both parties agreed to, for one dataset.

    ``assigner`` is the provider's participant id, ``assignee`` the consumer's; ``timestamp``
    is when the provider agreed; ``offer_id`` the offer it resulted from, when known.
    """

    id: str
    target: str
    assigner: str
    assignee: str
    timestamp: dt.datetime
    policy: Mapping[str, Any] = field(default_factory=dict)
    offer_id: str | None = None
    policy_id: str | None = None
    policy_hash: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "policy", _policy_copy(self.policy))
        if not (self.id and self.target and self.assigner and self.assignee):
            raise Invalid(
                "an agreement needs an id, a target, an assigner and an assignee",
                reason="invalid_agreement",
            )
        if self.timestamp.tzinfo is None:
            raise Invalid("an agreement timestamp must carry a time zone", reason="naive_time")
