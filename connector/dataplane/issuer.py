"""The control plane's ``DataAddressIssuer`` port: open and close a transfer's data flow.

``HttpData-PULL``: a fresh token bound to the transfer, agreement, consumer and dataset, and
the data address of the ``TransferStartMessage``::

    {"endpointType": "https://w3id.org/idsa/v4.1/HTTP",
     "endpoint": "<public url>/api/data/<transfer id>",
     "endpointProperties": [{"name": "authorization", "value": "<token>"},
                            {"name": "authType", "value": "bearer"}]}

``HttpData-PUSH``: the push starts in the background (once the transfer is STARTED); no
address. ``revoke`` (suspend, complete, terminate) revokes every token of the transfer in the
shared store and cancels a running push.
"""

from __future__ import annotations

from typing import Final

from connector.dataplane.push import Pusher
from connector.dataplane.tokens import AccessTokens
from connector.model import Agreement, DataAddress, Dataset, Transfer
from connector.model.dataset import PUSH

HTTP_ENDPOINT_TYPE: Final = "https://w3id.org/idsa/v4.1/HTTP"
DATA_PATH: Final = "/api/data"


def pull_endpoint(base_url: str, transfer_id: str) -> str:
    """The public pull URL of a transfer."""
    return f"{base_url.rstrip('/')}{DATA_PATH}/{transfer_id}"


class DataPlaneIssuer:
    """Implements ``connector.controlplane.ports.DataAddressIssuer``."""

    def __init__(self, tokens: AccessTokens, base_url: str, pusher: Pusher | None = None) -> None:
        self.tokens = tokens
        self.base_url = base_url
        self.pusher = pusher

    def issue(
        self, transfer: Transfer, agreement: Agreement, dataset: Dataset
    ) -> DataAddress | None:
        """Pull: a token and the endpoint. Push: start delivering, no address."""
        if transfer.format == PUSH:
            if self.pusher is not None:
                self.pusher.start(transfer, agreement, dataset)
            return None
        token, _ = self.tokens.issue(
            transfer_id=transfer.id,
            agreement_id=agreement.id,
            consumer_did=agreement.assignee,
            dataset_id=dataset.id,
        )
        return DataAddress(
            endpoint_type=HTTP_ENDPOINT_TYPE,
            endpoint=pull_endpoint(self.base_url, transfer.id),
            properties={"authorization": token, "authType": "bearer"},
        )

    def revoke(self, transfer_id: str) -> None:
        """Stop the transfer's tokens (all replicas) and any push."""
        self.tokens.revoke(transfer_id)
        if self.pusher is not None:
            self.pusher.cancel(transfer_id)
