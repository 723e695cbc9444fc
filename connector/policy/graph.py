"""A minimal in-memory triple graph, indexed for the look-ups the parsers need.

Only load-time code uses it: compiled policies never touch RDF again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from connector.errors import Invalid
from connector.policy.terms import IRI, RDF, RDF_TYPE, BNode, Literal, Node, Term

_NIL = RDF.nil
_FIRST = RDF.first
_REST = RDF.rest


class Graph:
    """A set of triples with subject→predicate→objects and predicate→object→subjects indexes."""

    __slots__ = ("_pos", "_size", "_spo")

    def __init__(self, triples: Iterable[tuple[Node, IRI, Term]] = ()) -> None:
        self._spo: dict[Node, dict[IRI, list[Term]]] = {}
        self._pos: dict[IRI, dict[Term, list[Node]]] = {}
        self._size = 0
        for s, p, o in triples:
            self.add(s, p, o)

    def add(self, s: Node, p: IRI, o: Term) -> None:
        """Add one triple (duplicates are ignored)."""
        objs = self._spo.setdefault(s, {}).setdefault(p, [])
        if o in objs:
            return
        objs.append(o)
        self._pos.setdefault(p, {}).setdefault(o, []).append(s)
        self._size += 1

    def update(self, other: Graph) -> None:
        """Add every triple of ``other``."""
        for s, p, o in other:
            self.add(s, p, o)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[tuple[Node, IRI, Term]]:
        for s, preds in self._spo.items():
            for p, objs in preds.items():
                for o in objs:
                    yield s, p, o

    def __contains__(self, triple: object) -> bool:
        if not isinstance(triple, tuple) or len(triple) != 3:
            return False
        s, p, o = triple
        return o in self._spo.get(s, {}).get(p, ())

    def subjects_all(self) -> list[Node]:
        """Every node that appears as a subject."""
        return list(self._spo)

    def predicates(self, s: Node) -> dict[IRI, list[Term]]:
        """All predicate→objects of a subject (a read-only view; do not mutate)."""
        return self._spo.get(s, {})

    def objects(self, s: Node, p: IRI) -> list[Term]:
        """Objects of ``s p ?o`` in insertion order."""
        return self._spo.get(s, {}).get(p, [])

    def value(self, s: Node, p: IRI) -> Term | None:
        """The first object of ``s p ?o``, or ``None``."""
        objs = self._spo.get(s, {}).get(p)
        return objs[0] if objs else None

    def subjects(self, p: IRI, o: Term) -> list[Node]:
        """Subjects of ``?s p o``."""
        return self._pos.get(p, {}).get(o, [])

    def pairs(self, p: IRI) -> Iterator[tuple[Node, Term]]:
        """All ``(s, o)`` with ``s p o``."""
        for o, subjects in self._pos.get(p, {}).items():
            for s in subjects:
                yield s, o

    def types(self, s: Node) -> list[Term]:
        """The ``rdf:type`` values of a node."""
        return self.objects(s, RDF_TYPE)

    def has_type(self, s: Node, t: IRI) -> bool:
        """Whether ``s rdf:type t`` holds."""
        return t in self._spo.get(s, {}).get(RDF_TYPE, ())

    def items(self, node: Term) -> list[Term]:
        """The members of an RDF collection (``rdf:first``/``rdf:rest``), or ``[node]``."""
        if node == _NIL:
            return []
        if not isinstance(node, (IRI, BNode)) or not self.objects(node, _FIRST):
            return [node]
        out: list[Term] = []
        seen: set[Node] = set()
        cur: Term = node
        while cur != _NIL:
            if not isinstance(cur, (IRI, BNode)) or cur in seen:
                raise Invalid("malformed RDF list", reason="malformed_rdf_list", node=str(node))
            seen.add(cur)
            first = self.objects(cur, _FIRST)
            rest = self.value(cur, _REST)
            if len(first) != 1 or rest is None:
                raise Invalid("malformed RDF list", reason="malformed_rdf_list", node=str(node))
            out.append(first[0])
            cur = rest
        return out


def is_node(term: object) -> bool:
    """Whether ``term`` can be a subject (IRI or blank node)."""
    return isinstance(term, (IRI, BNode))


def literal_text(term: Term | None) -> str | None:
    """The lexical form of a literal (or the IRI text), ``None`` for nothing."""
    if term is None:
        return None
    if isinstance(term, Literal):
        return term.lexical
    return str(term)
