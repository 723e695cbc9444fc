"""The catalogue use case: this participant's DCAT catalogue as one requester may see it.

A dataset's ``access_policy`` names a stored policy version (``{"policyId", "version",
"hash"}``; ``None`` = visible to everybody). A page is built by reading datasets in id order
after a cursor and keeping those the requester may see; each distinct access policy is
decided once per page, so the cost of a page depends on the page size, not on the size of the
catalogue. ``next_after`` is the cursor of the next page (``None`` on the last one),
``previous_before`` that of the previous page (DSP pagination: ``Link`` ``next``/``previous``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from connector.clock import Clock
from connector.controlplane.decisions import may_see
from connector.controlplane.policies import PolicyVersion
from connector.controlplane.ports import Facts
from connector.dsp import catalog as wire
from connector.dsp.conversion import dataset_to_wire
from connector.errors import NotFound
from connector.model.dataset import Dataset

MAX_PAGE = 500

FactsSource = Callable[[], Facts]
"""Facts of the requester, computed only if a dataset has an access policy."""


class DatasetSource(Protocol):
    def datasets_after(self, after: str | None, limit: int) -> list[Dataset]: ...
    def datasets_before(self, before: str, limit: int) -> list[Dataset]: ...
    def dataset(self, dataset_id: str) -> Dataset | None: ...
    def policy_by_hash(self, digest: str) -> PolicyVersion | None: ...


@dataclass(frozen=True)
class CatalogPage:
    """One page; ``next_after``/``previous_before`` are the cursors of the neighbours."""

    catalog: wire.Catalog
    next_after: str | None
    previous_before: str | None = None


class Catalogue:
    """Builds catalogue pages and single datasets for a requester."""

    def __init__(
        self, source: DatasetSource, clock: Clock, *, participant_id: str, dsp_url: str
    ) -> None:
        self._source = source
        self._clock = clock
        self.participant_id = participant_id
        self.dsp_url = dsp_url
        self._versions: dict[str, PolicyVersion] = {}
        self.service = wire.DataService(
            id=f"{participant_id}#dsp",
            endpoint_url=dsp_url,
            endpoint_description="dspace:connector",
        )

    def _version(self, digest: str) -> PolicyVersion | None:
        hit = self._versions.get(digest)
        if hit is None:
            hit = self._source.policy_by_hash(digest)
            if hit is not None:
                self._versions[digest] = hit
        return hit

    def visible(
        self, item: Dataset, facts: FactsSource, cache: dict[str, bool] | None = None
    ) -> bool:
        """Whether the requester may see ``item`` (unknown access policy: hidden, fail closed)."""
        ref: Mapping[str, Any] | None = item.access_policy
        if ref is None:
            return True
        digest = str(ref.get("hash", ""))
        if cache is not None and digest in cache:
            return cache[digest]
        version = self._version(digest)
        answer = version is not None and may_see(version, facts(), item.id, self._clock.now())
        if cache is not None:
            cache[digest] = answer
        return answer

    def page(
        self,
        facts: FactsSource,
        *,
        after: str | None = None,
        before: str | None = None,
        limit: int = 100,
    ) -> CatalogPage:
        """Up to ``limit`` datasets visible to the requester with ids after ``after`` (or,
        paging back, the last ``limit`` ones before ``before``)."""
        limit = max(1, min(limit, MAX_PAGE))
        backwards = before is not None and after is None
        shown, more = self._scan(facts, before if backwards else after, limit, backwards)
        if backwards:
            shown.reverse()
            next_after = shown[-1].id if shown else None
            previous = shown[0].id if more and shown else None
        else:
            next_after = shown[-1].id if more and shown else None
            previous = shown[0].id if after is not None and shown else None
        catalog = wire.Catalog(
            id=f"{self.dsp_url}/catalog",
            participant_id=self.participant_id,
            dataset=[self._wire(d) for d in shown],
            service=[self.service],
        )
        return CatalogPage(catalog, next_after, previous)

    def _scan(
        self, facts: FactsSource, cursor: str | None, limit: int, backwards: bool
    ) -> tuple[list[Dataset], bool]:
        """Visible datasets from ``cursor`` on (in scan order) and whether more may follow."""
        cache: dict[str, bool] = {}
        shown: list[Dataset] = []
        while True:
            if backwards:
                batch = self._source.datasets_before(cursor or "", limit + 1)
            else:
                batch = self._source.datasets_after(cursor, limit + 1)
            for index, item in enumerate(batch):
                if not self.visible(item, facts, cache):
                    continue
                shown.append(item)
                if len(shown) == limit:
                    return shown, index < len(batch) - 1 or len(batch) == limit + 1
            if len(batch) < limit + 1:
                return shown, False
            cursor = batch[-1].id

    def dataset(self, facts: FactsSource, dataset_id: str) -> wire.Dataset:
        """One dataset; ``NotFound`` if it does not exist or the requester may not see it."""
        item = self._source.dataset(dataset_id)
        if item is None or not self.visible(item, facts):
            raise NotFound(f"dataset {dataset_id} not found", reason="unknown_dataset")
        return self._wire(item)

    def _wire(self, item: Dataset) -> wire.Dataset:
        """The DSP form; ``properties`` (data-plane settings) stay private."""
        return dataset_to_wire(replace(item, properties={}), self.service.id)
