"""RDFC-1.0 canonical N-Quads of JSON-LD documents, with a work and time budget.

The canonical form is produced by pyoxigraph's RDFC-1.0 implementation (native; it passes the
W3C rdf-canon suite, including the N-Quads escaping of control characters that pyld gets wrong).
pyoxigraph cannot be interrupted, and RDFC-1.0 is exponential on graphs whose blank nodes cannot
be told apart (the "poison" clique of rdf-canon test074). So every graph is first classified by
the first-degree hashes of its blank nodes (RDFC-1.0 4.6, computed here):

* all hashes unique (the normal case for credentials): no N-degree step can occur; pyoxigraph
  labels the graph directly.
* some hashes shared: the labelling is computed here in Python as a budget probe (RDFC-1.0 4.8,
  counting N-degree calls and permutations, and checking the clock); a graph over the budget is
  refused with ``PayloadTooLarge(reason="canonicalization_budget")``; one within it is labelled
  by pyoxigraph, whose work is bounded by the same search.

``engine="pyld"`` is the all-Python path (pyld expansion, toRDF and URDNA2015), kept for the
benchmark; its output differs from RDFC-1.0 for literals with control characters.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
from pyld.canon import URDNA2015

from connector.clock import Clock, SystemClock
from connector.credentials.jsonld import (
    DEFAULT_LIMITS,
    Engine,
    Limits,
    PinnedLoader,
    UndefinedTerm,
    to_quads,
)
from connector.errors import Invalid, PayloadTooLarge

_SYSTEM_CLOCK = SystemClock()


class UndefinedTerms(Invalid):
    """The document uses terms its contexts do not define (they would be dropped unsigned)."""

    default_reason = "undefined_term"

    def __init__(self, terms: Sequence[UndefinedTerm]) -> None:
        listed = ", ".join(f"{t.term} at {t.path}" for t in terms[:10])
        super().__init__(f"terms not defined by the document's contexts: {listed}")
        self.terms = list(terms)


def canonical_nquads(
    document: Mapping[str, Any],
    *,
    loader: PinnedLoader,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
    clock: Clock | None = None,
) -> str:
    """The RDFC-1.0 canonical N-Quads of a JSON-LD document.

    Raises :class:`UndefinedTerms` when a property or type is not defined by the contexts,
    :class:`~connector.errors.UnknownContext` for an unpinned context, and
    :class:`~connector.errors.PayloadTooLarge` when a limit or the budget is exceeded.
    """
    converted = to_quads(document, loader=loader, limits=limits, engine=engine)
    if converted.undefined:
        raise UndefinedTerms(converted.undefined)
    if engine == "pyld":
        return _pyld_canonicalize(converted.quads, limits, clock or _SYSTEM_CLOCK)
    return canonicalize_quads(converted.quads, limits=limits, clock=clock)


def canonicalize_quads(
    quads: Iterable[ox.Quad], *, limits: Limits = DEFAULT_LIMITS, clock: Clock | None = None
) -> str:
    """RDFC-1.0 (SHA-256) canonical N-Quads of a dataset, refusing graphs over the budget."""
    unique = list(dict.fromkeys(quads))
    if len(unique) > limits.max_quads:
        raise PayloadTooLarge(f"more than {limits.max_quads} quads", reason="too_many_quads")
    if _has_twins(unique, limits):
        _Labeller(unique, limits, clock or _SYSTEM_CLOCK).label()  # budget probe; raises
    dataset = ox.Dataset(unique)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return "".join(sorted(f"{quad} .\n" for quad in dataset))


def rdfc10_python(
    quads: Iterable[ox.Quad], *, limits: Limits = DEFAULT_LIMITS, clock: Clock | None = None
) -> str:
    """RDFC-1.0 computed entirely here (the budget probe's own result; used to cross-check)."""
    state = _Labeller(list(dict.fromkeys(quads)), limits, clock or _SYSTEM_CLOCK)
    return state.serialize(state.label())


def _has_twins(quads: list[ox.Quad], limits: Limits) -> bool:
    """Whether two blank nodes share a first-degree hash (RDFC-1.0 4.6), without hashing.

    Each blank node's first-degree quads as a multiset of (term, term, term, term) tuples where
    the node itself is ``True`` and any other blank node ``False``: equal multisets are exactly
    equal first-degree hashes. Also enforces the blank node limit.
    """
    rows: dict[str, list[tuple[Any, ...]]] = {}
    for quad in quads:
        terms = (quad.subject, quad.predicate, quad.object, quad.graph_name)
        blanks = {t.value for t in terms if isinstance(t, ox.BlankNode)}
        for node in blanks:
            rows.setdefault(node, []).append(
                tuple((t.value == node) if isinstance(t, ox.BlankNode) else t for t in terms)
            )
    if len(rows) > limits.max_blank_nodes:
        raise PayloadTooLarge(
            f"more than {limits.max_blank_nodes} blank nodes", reason="too_many_blank_nodes"
        )
    seen: set[frozenset[tuple[tuple[Any, ...], int]]] = set()
    for node_rows in rows.values():
        counts: dict[tuple[Any, ...], int] = {}
        for row in node_rows:
            counts[row] = counts.get(row, 0) + 1
        signature = frozenset(counts.items())
        if signature in seen:
            return True
        seen.add(signature)
    return False


def _pyld_canonicalize(quads: list[ox.Quad], limits: Limits, clock: Clock) -> str:
    if _has_twins(quads, limits):
        _Labeller(list(dict.fromkeys(quads)), limits, clock).label()
    dataset: dict[str, list[dict[str, Any]]] = {}
    for quad in quads:
        graph = quad.graph_name
        key = "@default" if isinstance(graph, ox.DefaultGraph) else _pyld_name(graph)
        dataset.setdefault(key, []).append(
            {
                "subject": _pyld_term(quad.subject),
                "predicate": _pyld_term(quad.predicate),
                "object": _pyld_term(quad.object),
            }
        )
    result: str = URDNA2015().main(dataset, {"format": "application/n-quads"})
    return result


def _pyld_name(term: Any) -> str:
    return f"_:{term.value}" if isinstance(term, ox.BlankNode) else str(term.value)


def _pyld_term(term: Any) -> dict[str, str]:
    if isinstance(term, ox.NamedNode):
        return {"type": "IRI", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "blank node", "value": f"_:{term.value}"}
    literal: dict[str, str] = {"type": "literal", "value": term.value}
    if term.language:
        literal["language"] = term.language
        literal["datatype"] = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
    else:
        literal["datatype"] = term.datatype.value
    return literal


# --- RDFC-1.0 labelling (W3C rdf-canon, section 4) --------------------------------------------


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class _Issuer:
    prefix: str
    issued: dict[str, str] = field(default_factory=dict)

    def issue(self, node: str) -> str:
        found = self.issued.get(node)
        if found is None:
            found = f"{self.prefix}{len(self.issued)}"
            self.issued[node] = found
        return found

    def copy(self) -> _Issuer:
        return _Issuer(self.prefix, dict(self.issued))


class _Labeller:
    """The canonicalization state of RDFC-1.0 over one dataset."""

    _POSITIONS = ("s", "o", "g")

    def __init__(self, quads: list[ox.Quad], limits: Limits, clock: Clock) -> None:
        self.limits = limits
        self.clock = clock
        self.deadline = clock.monotonic() + limits.canonicalization_seconds
        self.steps = 0
        # Each quad as its four serialized terms; blank nodes as their label (key) or None.
        self.rows: list[tuple[list[str], list[str | None]]] = []
        self.quads_of: dict[str, list[int]] = {}
        for index, quad in enumerate(quads):
            terms = [quad.subject, quad.predicate, quad.object, quad.graph_name]
            text = [str(t) for t in terms]
            blanks: list[str | None] = [
                t.value if isinstance(t, ox.BlankNode) else None for t in terms
            ]
            if isinstance(quad.graph_name, ox.DefaultGraph):
                text[3] = ""
            self.rows.append((text, blanks))
            for label in dict.fromkeys(b for b in blanks if b is not None):
                self.quads_of.setdefault(label, []).append(index)
        if len(self.quads_of) > limits.max_blank_nodes:
            raise PayloadTooLarge(
                f"more than {limits.max_blank_nodes} blank nodes", reason="too_many_blank_nodes"
            )
        self.first: dict[str, str] = {n: self._hash_first_degree(n) for n in self.quads_of}
        self.by_hash: dict[str, list[str]] = {}
        for node, digest in self.first.items():
            self.by_hash.setdefault(digest, []).append(node)
        self.canonical = _Issuer("c14n")

    def _line(self, index: int, rename: Mapping[str, str], default: str | None) -> str:
        text, blanks = self.rows[index]
        parts = []
        for term, blank in zip(text, blanks, strict=True):
            if blank is not None:
                parts.append("_:" + rename.get(blank, default or blank))
            elif term:
                parts.append(term)
        return " ".join(parts) + " .\n"

    def _hash_first_degree(self, node: str) -> str:
        lines = sorted(self._line(i, {node: "a"}, "z") for i in self.quads_of[node])
        return _sha256("".join(lines))

    def _tick(self) -> None:
        self.steps += 1
        if self.steps > self.limits.max_ndegree_steps or (
            self.steps % 64 == 0 and self.clock.monotonic() > self.deadline
        ):
            raise PayloadTooLarge(
                "RDFC-1.0 canonicalization exceeded its budget (indistinguishable blank nodes)",
                reason="canonicalization_budget",
            )

    def label(self) -> dict[str, str]:
        """Canonical labels of all blank nodes (RDFC-1.0 4.4.3 steps 3-5)."""
        for digest in sorted(self.by_hash):
            nodes = self.by_hash[digest]
            if len(nodes) == 1:
                self.canonical.issue(nodes[0])
        for digest in sorted(self.by_hash):
            nodes = self.by_hash[digest]
            if len(nodes) == 1:
                continue
            paths: list[tuple[str, _Issuer]] = []
            for node in nodes:
                if node in self.canonical.issued:
                    continue
                temporary = _Issuer("b")
                temporary.issue(node)
                paths.append(self._hash_n_degree(node, temporary))
            for _, issuer in sorted(paths, key=lambda item: item[0]):
                for existing in issuer.issued:
                    self.canonical.issue(existing)
        return self.canonical.issued

    def serialize(self, labels: Mapping[str, str]) -> str:
        return "".join(sorted({self._line(i, labels, None) for i in range(len(self.rows))}))

    def _related_hash(self, related: str, index: int, position: str, issuer: _Issuer) -> str:
        if related in self.canonical.issued:
            identifier = "_:" + self.canonical.issued[related]
        elif related in issuer.issued:
            identifier = "_:" + issuer.issued[related]
        else:
            identifier = self.first[related]
        predicate = "" if position == "g" else self.rows[index][0][1]
        return _sha256(position + predicate + identifier)

    def _hash_n_degree(self, node: str, issuer: _Issuer) -> tuple[str, _Issuer]:
        self._tick()
        related_by_hash: dict[str, list[str]] = {}
        for index in self.quads_of[node]:
            blanks = self.rows[index][1]
            for slot, position in ((0, "s"), (2, "o"), (3, "g")):
                related = blanks[slot]
                if related is not None and related != node:
                    digest = self._related_hash(related, index, position, issuer)
                    related_by_hash.setdefault(digest, []).append(related)
        data = ""
        for digest in sorted(related_by_hash):
            data += digest
            chosen_path = ""
            chosen_issuer: _Issuer | None = None
            for permutation in _permutations(related_by_hash[digest]):
                self._tick()
                issuer_copy = issuer.copy()
                path = ""
                recursion: list[str] = []
                pruned = False
                for related in permutation:
                    if related in self.canonical.issued:
                        path += "_:" + self.canonical.issued[related]
                    else:
                        if related not in issuer_copy.issued:
                            recursion.append(related)
                        path += "_:" + issuer_copy.issue(related)
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        pruned = True
                        break
                if pruned:
                    continue
                for related in recursion:
                    result, issuer_copy = self._hash_n_degree(related, issuer_copy)
                    path += "_:" + issuer_copy.issue(related) + "<" + result + ">"
                    if chosen_path and len(path) >= len(chosen_path) and path > chosen_path:
                        pruned = True
                        break
                if pruned:
                    continue
                if not chosen_path or path < chosen_path:
                    chosen_path, chosen_issuer = path, issuer_copy
            data += chosen_path
            assert chosen_issuer is not None
            issuer = chosen_issuer
        return _sha256(data), issuer


def _permutations(items: list[str]) -> Iterable[list[str]]:
    """All orderings of ``items`` (distinct labels), lazily, in lexicographic order."""
    pool = sorted(items)
    yield list(pool)
    n = len(pool)
    while True:
        i = n - 2
        while i >= 0 and pool[i] >= pool[i + 1]:
            i -= 1
        if i < 0:
            return
        j = n - 1
        while pool[j] <= pool[i]:
            j -= 1
        pool[i], pool[j] = pool[j], pool[i]
        pool[i + 1 :] = reversed(pool[i + 1 :])
        yield list(pool)
