"""SHACL validation of credentials, with shapes compiled once into Python checks.

:class:`Shapes` parses SHACL shapes (Turtle) once and compiles them; :meth:`Shapes.validate` checks
RDF triples against them and returns a :class:`ShaclReport` of human-readable
:class:`Violation` entries (focus node, path, message). :func:`validate_credential` does the whole
trip for a JSON-LD credential: pinned-context JSON-LD → RDF (:mod:`connector.credentials.jsonld`),
the credential's subject graph, and validation. The project's own shapes ship in
``connector/credentials/shapes/`` (:func:`project_shapes`).

Why an own engine: pyshacl needs ~120 ms per credential against the 166 Gaia-X 25.11 shapes
(~70 ms with only the shapes whose targets occur), because it rebuilds every constraint (e.g. the
1,909-entry MIME type list) on each run; compiled checks take well under a millisecond. See
``docs/decisions/20261201-shacl-validation.md``. The tests compare the results with pyshacl.

Supported SHACL Core: targets (``targetClass`` with ``rdfs:subClassOf`` in the data, implicit
class targets, ``targetNode``, ``targetSubjectsOf``, ``targetObjectsOf``); predicate and inverse
paths; ``class``, ``datatype`` (with lexical well-formedness), ``nodeKind``, ``minCount``,
``maxCount``, ``minInclusive``/``maxInclusive``/``minExclusive``/``maxExclusive``, ``minLength``,
``maxLength``, ``pattern``/``flags``, ``languageIn``, ``uniqueLang``, ``in``, ``hasValue``,
``node``, ``property``, ``and``, ``or``, ``not``, ``xone``, ``closed``/``ignoredProperties``;
``message``, ``severity``, ``deactivated``. A shape using anything else is refused when the shapes
are compiled (``unsupported_shacl``): a constraint is never skipped silently.

Focus nodes are restricted to the nodes the validated data describes (subjects of its triples).
``supporting`` triples (e.g. the other credentials of the same participant) only answer
``sh:class`` and value lookups — the way the Gaia-X compliance service validates a credential
together with the credentials it references.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from typing import Any

import pyoxigraph as ox

from connector.credentials.jsonld import (
    DEFAULT_LIMITS,
    Limits,
    PinnedLoader,
    UndefinedTerm,
    to_quads,
)
from connector.errors import Invalid

SH = "http://www.w3.org/ns/shacl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
XSD = "http://www.w3.org/2001/XMLSchema#"
CRED = "https://www.w3.org/2018/credentials#"
SEC_PROOF = ox.NamedNode("https://w3id.org/security#proof")

Node = ox.NamedNode | ox.BlankNode
Term = ox.NamedNode | ox.BlankNode | ox.Literal
Triple = tuple[Node, ox.NamedNode, Term]

PREFIXES: dict[str, str] = {
    "gx": "https://w3id.org/gaia-x/development#",
    "dct": "http://purl.org/dc/terms/",
    "dcat": "http://www.w3.org/ns/dcat#",
    "dcatde": "http://dcat-ap.de/def/dcatde/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "kk": "https://w3id.org/klimakommune/vocab#",
    "schema": "https://schema.org/",
    "xsd": XSD,
    "rdf": RDF,
    "rdfs": RDFS,
    "sh": SH,
    "cred": CRED,
}
"""Prefixes used to shorten IRIs in violation messages."""

_TYPE = ox.NamedNode(RDF + "type")
_SUBCLASS = ox.NamedNode(RDFS + "subClassOf")
_FIRST, _REST, _NIL = (ox.NamedNode(RDF + name) for name in ("first", "rest", "nil"))
_LANG_STRING = ox.NamedNode(RDF + "langString")

_TARGETS = {"targetClass", "targetNode", "targetSubjectsOf", "targetObjectsOf"}
_ANNOTATIONS = {"name", "description", "order", "group", "defaultValue", "message", "severity"}
_STRUCTURE = {"path", "property", "closed", "ignoredProperties", "deactivated", "flags"}
_COMPONENTS = {
    "class", "datatype", "nodeKind", "minCount", "maxCount", "minInclusive", "maxInclusive",
    "minExclusive", "maxExclusive", "minLength", "maxLength", "pattern", "languageIn",
    "uniqueLang", "in", "hasValue", "node", "and", "or", "not", "xone",
}  # fmt: skip
_KNOWN = _TARGETS | _ANNOTATIONS | _STRUCTURE | _COMPONENTS
_MAX_DEPTH = 32


def compact(term: Term | str) -> str:
    """A short, readable form of an RDF term (``gx:legalAddress``, ``"DE"``, ``_:b0``)."""
    if isinstance(term, ox.Literal):
        shown = f'"{term.value}"'
        if term.language:
            return f"{shown}@{term.language}"
        if term.datatype.value != XSD + "string":
            return f"{shown}^^{compact(term.datatype.value)}"
        return shown
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    iri = term.value if isinstance(term, ox.NamedNode) else term
    for prefix, namespace in PREFIXES.items():
        if iri.startswith(namespace) and len(iri) > len(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


@dataclass(frozen=True)
class Violation:
    """One SHACL validation result, readable by a person."""

    focus_node: str
    """The node that does not conform (an IRI or ``_:label``)."""
    path: str | None
    """The property concerned, compacted (``gx:legalAddress``); ``None`` for node constraints."""
    message: str
    component: str = ""
    """The constraint component, e.g. ``minCount``, ``class``, ``closed``."""
    value: str | None = None
    shape: str = ""
    severity: str = "Violation"

    def __str__(self) -> str:
        return f"{self.focus_node} {self.path or '(node)'}: {self.message}"

    def sort_key(self) -> tuple[str, ...]:
        return (self.focus_node, self.path or "", self.component, self.value or "", self.message)


@dataclass(frozen=True)
class ShaclReport:
    """The outcome of a validation: conforming when there is no violation."""

    violations: tuple[Violation, ...] = ()

    @property
    def conforms(self) -> bool:
        return not self.violations

    def describe(self) -> str:
        """One line per violation, or ``conforms``."""
        return "\n".join(str(item) for item in self.violations) or "conforms"


# --- the data graph -----------------------------------------------------------------------------


class _Data:
    """Triples indexed for path lookups and class membership, optionally over a base graph."""

    def __init__(self, triples: Iterable[Triple], base: _Data | None = None) -> None:
        self.base = base
        self.triples: set[Triple] = set()
        self.out: dict[Node, dict[ox.NamedNode, list[Term]]] = {}
        self.inv: dict[Term, dict[ox.NamedNode, list[Node]]] = {}
        for triple in triples:
            if triple in self.triples or (base is not None and triple in base.triples):
                continue
            self.triples.add(triple)
            s, p, o = triple
            self.out.setdefault(s, {}).setdefault(p, []).append(o)
            self.inv.setdefault(o, {}).setdefault(p, []).append(s)
        self._supers: dict[Term, frozenset[Term]] = {}

    def properties(self, node: Term) -> dict[ox.NamedNode, list[Term]]:
        """Outgoing predicates of ``node`` with their objects."""
        own = self.out.get(node, {}) if not isinstance(node, ox.Literal) else {}
        if self.base is None:
            return own
        merged = {p: list(objects) for p, objects in self.base.properties(node).items()}
        for predicate, objects in own.items():
            merged.setdefault(predicate, []).extend(objects)
        return merged

    def incoming(self, node: Term) -> dict[ox.NamedNode, list[Node]]:
        """Incoming predicates of ``node`` with their subjects."""
        own = self.inv.get(node, {})
        if self.base is None:
            return own
        merged = {p: list(subjects) for p, subjects in self.base.incoming(node).items()}
        for predicate, subjects in own.items():
            merged.setdefault(predicate, []).extend(subjects)
        return merged

    def values(self, node: Term, predicate: ox.NamedNode, inverse: bool = False) -> list[Term]:
        found: list[Term] = []
        if inverse:
            found.extend(self.inv.get(node, {}).get(predicate, ()))
        elif not isinstance(node, ox.Literal):
            found.extend(self.out.get(node, {}).get(predicate, ()))
        if self.base is not None:
            found.extend(self.base.values(node, predicate, inverse))
        return found

    def superclasses(self, cls: Term) -> frozenset[Term]:
        """``cls`` and everything it is an ``rdfs:subClassOf*`` of in the data."""
        known = self._supers.get(cls)
        if known is None:
            found: set[Term] = set()
            stack = [cls]
            while stack:
                item = stack.pop()
                if item in found:
                    continue
                found.add(item)
                stack.extend(self.values(item, _SUBCLASS))
            known = self._supers[cls] = frozenset(found)
        return known

    def classes(self, node: Term) -> set[Term]:
        result: set[Term] = set()
        for cls in self.values(node, _TYPE):
            result |= self.superclasses(cls)
        return result

    def is_instance(self, node: Term, cls: Term) -> bool:
        return cls in self.classes(node)


class Supporting:
    """Triples that only answer lookups during validation, indexed once for many validations.

    Typically the other credentials of the same participant or presentation: they tell
    ``sh:class`` what a referenced node is. Their blank nodes are renamed, so they never merge
    with the validated document's.
    """

    def __init__(self, triples: Iterable[Triple]) -> None:
        self._data = _Data(_rename_blank_nodes(triples))

    def __len__(self) -> int:
        return len(self._data.triples)


# --- compiled shapes ----------------------------------------------------------------------------

_Check = Callable[[_Data, Term, list[Term], int], Iterator[tuple[Term | None, str]]]


@dataclass(eq=False)
class _Component:
    name: str
    check: _Check


@dataclass(eq=False)
class _Shape:
    node: Term
    path: tuple[ox.NamedNode, bool] | None = None
    components: list[_Component] = field(default_factory=list)
    properties: list[_Shape] = field(default_factory=list)
    closed: frozenset[ox.NamedNode] | None = None
    message: str | None = None
    severity: str = "Violation"
    deactivated: bool = False

    def path_label(self) -> str | None:
        if self.path is None:
            return None
        predicate, inverse = self.path
        return ("^" if inverse else "") + compact(predicate)


@dataclass(frozen=True)
class _Raw:
    focus: Term
    shape: _Shape
    component: str
    value: Term | None
    message: str
    path: str | None


def _evaluate(shape: _Shape, data: _Data, focus: Term, depth: int) -> Iterator[_Raw]:
    if shape.deactivated:
        return
    if depth > _MAX_DEPTH:
        yield _Raw(focus, shape, "depth", None, "shape nesting too deep", shape.path_label())
        return
    values = [focus] if shape.path is None else data.values(focus, shape.path[0], shape.path[1])
    label = shape.path_label()
    for component in shape.components:
        for value, message in component.check(data, focus, values, depth):
            yield _Raw(focus, shape, component.name, value, shape.message or message, label)
    if shape.closed is not None:
        for value in values:
            if isinstance(value, ox.Literal):
                continue
            for predicate, objects in data.properties(value).items():
                if predicate in shape.closed:
                    continue
                for obj in objects:
                    yield _Raw(
                        value,
                        shape,
                        "closed",
                        obj,
                        shape.message or "property not allowed here (closed shape)",
                        compact(predicate),
                    )
    for prop in shape.properties:
        for value in values:
            yield from _evaluate(prop, data, value, depth)


def _conforms(shape: _Shape, data: _Data, node: Term, depth: int) -> bool:
    return next(_evaluate(shape, data, node, depth + 1), None) is None


class Shapes:
    """SHACL shapes compiled once; validation then needs no RDF library."""

    def __init__(self, shapes: Sequence[_Shape], targets: Mapping[str, Any]) -> None:
        self._shapes = list(shapes)
        self._by_class: dict[Term, list[_Shape]] = targets["class"]
        self._by_node: dict[Term, list[_Shape]] = targets["node"]
        self._by_subject_of: dict[ox.NamedNode, list[_Shape]] = targets["subjectsOf"]
        self._by_object_of: dict[ox.NamedNode, list[_Shape]] = targets["objectsOf"]

    @classmethod
    def parse(cls, *sources: str | bytes) -> Shapes:
        """Compile the shapes of one or more Turtle documents (merged into one shapes graph)."""
        triples: list[Triple] = []
        for source in sources:
            try:
                quads = ox.parse(source, format=ox.RdfFormat.TURTLE)
                triples.extend((q.subject, q.predicate, q.object) for q in quads)
            except SyntaxError as exc:
                raise Invalid(f"shapes are not valid Turtle: {exc}", reason="bad_shapes") from exc
        return _Compiler(_Data(triples)).compile()

    def combine(self, *others: Shapes) -> Shapes:
        """One validator running these shapes and the others'."""
        merged: dict[str, Any] = {"class": {}, "node": {}, "subjectsOf": {}, "objectsOf": {}}
        for shapes in (self, *others):
            for kind, table in (
                ("class", shapes._by_class),
                ("node", shapes._by_node),
                ("subjectsOf", shapes._by_subject_of),
                ("objectsOf", shapes._by_object_of),
            ):
                for key, listed in table.items():
                    merged[kind].setdefault(key, []).extend(listed)
        return Shapes([s for shapes in (self, *others) for s in shapes._shapes], merged)

    def __len__(self) -> int:
        return len(self._shapes)

    @property
    def target_classes(self) -> frozenset[str]:
        """IRIs of the classes whose instances these shapes validate."""
        return frozenset(c.value for c in self._by_class if isinstance(c, ox.NamedNode))

    def validate(
        self, data: Iterable[Triple], *, supporting: Iterable[Triple] | Supporting = ()
    ) -> ShaclReport:
        """Validate the nodes described by ``data``; ``supporting`` triples only inform lookups."""
        own = list(data)
        if not isinstance(supporting, Supporting):
            supporting = Supporting(supporting)
        graph = _Data(own, base=supporting._data)
        subjects = {s for s, _, _ in own}
        results: set[_Raw] = set()
        for focus, shape in self._focus_pairs(graph, subjects):
            results.update(_evaluate(shape, graph, focus, 0))
        violations = {
            Violation(
                focus_node=compact(raw.focus)
                if not isinstance(raw.focus, ox.NamedNode)
                else raw.focus.value,
                path=raw.path,
                message=raw.message,
                component=raw.component,
                value=None if raw.value is None else compact(raw.value),
                shape=compact(raw.shape.node),
                severity=raw.shape.severity,
            )
            for raw in results
        }
        return ShaclReport(tuple(sorted(violations, key=Violation.sort_key)))

    def _focus_pairs(self, graph: _Data, subjects: set[Node]) -> Iterator[tuple[Term, _Shape]]:
        pairs: dict[tuple[Term, int], tuple[Term, _Shape]] = {}
        for node in subjects:
            found: list[_Shape] = []
            for cls in graph.classes(node):
                found.extend(self._by_class.get(cls, ()))
            found.extend(self._by_node.get(node, ()))
            for predicate in graph.properties(node):
                found.extend(self._by_subject_of.get(predicate, ()))
            for predicate in graph.incoming(node):
                found.extend(self._by_object_of.get(predicate, ()))
            for shape in found:
                pairs[(node, id(shape))] = (node, shape)
        return iter(pairs.values())


def _rename_blank_nodes(triples: Iterable[Triple]) -> Iterator[Triple]:
    """Supporting graphs come from other documents: keep their blank nodes apart from the data's."""
    renamed: dict[str, ox.BlankNode] = {}

    def fresh(term: Any) -> Any:
        if isinstance(term, ox.BlankNode):
            if term.value not in renamed:
                renamed[term.value] = ox.BlankNode()
            return renamed[term.value]
        return term

    for s, p, o in triples:
        yield fresh(s), p, fresh(o)


# --- the compiler -------------------------------------------------------------------------------


class _Compiler:
    def __init__(self, graph: _Data) -> None:
        self.g = graph
        self.memo: dict[Term, _Shape] = {}

    def one(self, node: Term, name: str) -> Term | None:
        found = self.g.values(node, ox.NamedNode(SH + name))
        if len(found) > 1:
            raise Invalid(f"shape {compact(node)} has several sh:{name}", reason="bad_shapes")
        return found[0] if found else None

    def all(self, node: Term, name: str) -> list[Term]:
        return self.g.values(node, ox.NamedNode(SH + name))

    def rdf_list(self, head: Term) -> list[Term]:
        items: list[Term] = []
        while head != _NIL:
            if len(items) > 100_000 or not self.g.values(head, _FIRST):
                raise Invalid(f"malformed RDF list at {compact(head)}", reason="bad_shapes")
            items.append(self.g.values(head, _FIRST)[0])
            head = self.g.values(head, _REST)[0]
        return items

    def compile(self) -> Shapes:
        targets: dict[str, dict[Any, list[_Shape]]] = {
            "class": {}, "node": {}, "subjectsOf": {}, "objectsOf": {},
        }  # fmt: skip
        roots: list[_Shape] = []
        node_shape = ox.NamedNode(SH + "NodeShape")
        rdfs_class = ox.NamedNode(RDFS + "Class")
        candidates = {
            s
            for s, preds in self.g.out.items()
            if any(p.value[len(SH) :] in _TARGETS for p in preds)
        }
        candidates |= set(self.g.inv.get(node_shape, {}).get(_TYPE, ()))
        for node in sorted(candidates, key=str):
            shape = self.shape(node)
            implicit = node_shape in self.g.values(node, _TYPE) and rdfs_class in self.g.values(
                node, _TYPE
            )
            listed = False
            for kind in ("class", "node", "subjectsOf", "objectsOf"):
                for value in self.all(node, "target" + kind[0].upper() + kind[1:]):
                    targets[kind].setdefault(value, []).append(shape)
                    listed = True
            if implicit:
                targets["class"].setdefault(node, []).append(shape)
                listed = True
            if listed:
                roots.append(shape)
        return Shapes(roots, targets)

    def shape(self, node: Term) -> _Shape:
        known = self.memo.get(node)
        if known is not None:
            return known
        shape = self.memo[node] = _Shape(node)
        preds = {p.value[len(SH) :] for p in self.g.out.get(node, {}) if p.value.startswith(SH)}  # type: ignore[arg-type]
        unsupported = sorted(preds - _KNOWN)
        if unsupported:
            listed = ", ".join("sh:" + name for name in unsupported)
            raise Invalid(
                f"shape {compact(node)} uses unsupported SHACL features: {listed}",
                reason="unsupported_shacl",
            )
        path = self.one(node, "path")
        if path is not None:
            shape.path = self.path(path)
        message = self.all(node, "message")
        if message:
            shape.message = min(
                (m.value for m in message if isinstance(m, ox.Literal)), default=None
            )
        severity = self.one(node, "severity")
        if severity is not None:
            shape.severity = compact(severity).removeprefix("sh:")
        deactivated = self.one(node, "deactivated")
        shape.deactivated = isinstance(deactivated, ox.Literal) and deactivated.value == "true"
        shape.properties = [self.shape(p) for p in self.all(node, "property")]
        closed = self.one(node, "closed")
        if isinstance(closed, ox.Literal) and closed.value == "true":
            allowed: set[ox.NamedNode] = set()
            for prop in shape.properties:
                if prop.path is not None and not prop.path[1]:
                    allowed.add(prop.path[0])
            ignored = self.one(node, "ignoredProperties")
            if ignored is not None:
                allowed |= {i for i in self.rdf_list(ignored) if isinstance(i, ox.NamedNode)}
            shape.closed = frozenset(allowed)
        for name in sorted(preds & _COMPONENTS):
            for value in self.all(node, name):
                shape.components.append(_Component(name, self.component(node, name, value)))
        return shape

    def path(self, path: Term) -> tuple[ox.NamedNode, bool]:
        if isinstance(path, ox.NamedNode):
            return path, False
        inverse = self.g.values(path, ox.NamedNode(SH + "inversePath"))
        if len(inverse) == 1 and isinstance(inverse[0], ox.NamedNode):
            return inverse[0], True
        raise Invalid(
            f"unsupported SHACL path at {compact(path)} (only predicates and sh:inversePath)",
            reason="unsupported_shacl",
        )

    def component(self, node: Term, name: str, value: Term) -> _Check:
        factory = _FACTORIES[name]
        return factory(self, node, value)


# --- constraint components ----------------------------------------------------------------------

_Factory = Callable[[_Compiler, Term, Term], _Check]
_FACTORIES: dict[str, _Factory] = {}


def _component(name: str) -> Callable[[_Factory], _Factory]:
    def register(factory: _Factory) -> _Factory:
        _FACTORIES[name] = factory
        return factory

    return register


def _integer(value: Term, name: str) -> int:
    if isinstance(value, ox.Literal):
        try:
            return int(value.value)
        except ValueError:
            pass
    raise Invalid(f"sh:{name} needs an integer, got {compact(value)}", reason="bad_shapes")


def _per_value(test: Callable[[_Data, Term, int], str | None]) -> _Check:
    def check(
        data: _Data, focus: Term, values: list[Term], depth: int
    ) -> Iterator[tuple[Term | None, str]]:
        for value in values:
            problem = test(data, value, depth)
            if problem is not None:
                yield value, problem

    return check


@_component("class")
def _class(compiler: _Compiler, node: Term, cls: Term) -> _Check:
    def test(data: _Data, value: Term, depth: int) -> str | None:
        if data.is_instance(value, cls):
            return None
        return f"value {compact(value)} is not an instance of {compact(cls)}"

    return _per_value(test)


@_component("datatype")
def _datatype(compiler: _Compiler, node: Term, datatype: Term) -> _Check:
    def test(data: _Data, value: Term, depth: int) -> str | None:
        wanted = compact(datatype)
        if not isinstance(value, ox.Literal):
            return f"value {compact(value)} is not a literal of datatype {wanted}"
        actual = _LANG_STRING if value.language else value.datatype
        if actual != datatype:
            return f"value {compact(value)} does not have datatype {wanted}"
        if not _well_formed(value.value, datatype.value):
            return f"value {compact(value)} is not a valid {wanted}"
        return None

    return _per_value(test)


_NODE_KINDS: dict[str, tuple[type, ...]] = {
    "IRI": (ox.NamedNode,),
    "BlankNode": (ox.BlankNode,),
    "Literal": (ox.Literal,),
    "BlankNodeOrIRI": (ox.BlankNode, ox.NamedNode),
    "BlankNodeOrLiteral": (ox.BlankNode, ox.Literal),
    "IRIOrLiteral": (ox.NamedNode, ox.Literal),
}


@_component("nodeKind")
def _node_kind(compiler: _Compiler, node: Term, kind: Term) -> _Check:
    name = kind.value[len(SH) :] if isinstance(kind, ox.NamedNode) else ""
    if name not in _NODE_KINDS:
        raise Invalid(f"unknown sh:nodeKind {compact(kind)}", reason="bad_shapes")
    accepted = _NODE_KINDS[name]

    def test(data: _Data, value: Term, depth: int) -> str | None:
        return None if isinstance(value, accepted) else f"value {compact(value)} is not a {name}"

    return _per_value(test)


@_component("minCount")
def _min_count(compiler: _Compiler, node: Term, bound: Term) -> _Check:
    limit = _integer(bound, "minCount")

    def check(
        data: _Data, focus: Term, values: list[Term], depth: int
    ) -> Iterator[tuple[Term | None, str]]:
        if len(values) < limit:
            yield None, f"expected at least {limit} value(s), found {len(values)}"

    return check


@_component("maxCount")
def _max_count(compiler: _Compiler, node: Term, bound: Term) -> _Check:
    limit = _integer(bound, "maxCount")

    def check(
        data: _Data, focus: Term, values: list[Term], depth: int
    ) -> Iterator[tuple[Term | None, str]]:
        if len(values) > limit:
            yield None, f"expected at most {limit} value(s), found {len(values)}"

    return check


def _range(name: str, holds: Callable[[int], bool], words: str) -> None:
    @_component(name)
    def factory(compiler: _Compiler, node: Term, bound: Term) -> _Check:
        def test(data: _Data, value: Term, depth: int) -> str | None:
            order = _compare(value, bound)
            if order is not None and holds(order):
                return None
            return f"value {compact(value)} is not {words} {compact(bound)}"

        return _per_value(test)


_range("minInclusive", lambda order: order >= 0, "at least")
_range("maxInclusive", lambda order: order <= 0, "at most")
_range("minExclusive", lambda order: order > 0, "greater than")
_range("maxExclusive", lambda order: order < 0, "less than")


def _length(name: str, holds: Callable[[int, int], bool], words: str) -> None:
    @_component(name)
    def factory(compiler: _Compiler, node: Term, bound: Term) -> _Check:
        limit = _integer(bound, name)

        def test(data: _Data, value: Term, depth: int) -> str | None:
            if not isinstance(value, ox.BlankNode) and holds(len(value.value), limit):
                return None
            return f"value {compact(value)} is {words} {limit} characters"

        return _per_value(test)


_length("minLength", lambda size, limit: size >= limit, "shorter than")
_length("maxLength", lambda size, limit: size <= limit, "longer than")


@_component("pattern")
def _pattern(compiler: _Compiler, node: Term, pattern: Term) -> _Check:
    flags_term = compiler.one(node, "flags")
    flags = 0
    for letter in flags_term.value if isinstance(flags_term, ox.Literal) else "":
        flags |= {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE, "x": re.VERBOSE}.get(
            letter, 0
        )
    try:
        regex = re.compile(pattern.value, flags)
    except re.error as exc:
        raise Invalid(f"bad sh:pattern {pattern.value!r}: {exc}", reason="bad_shapes") from exc

    def test(data: _Data, value: Term, depth: int) -> str | None:
        if not isinstance(value, ox.BlankNode) and regex.search(value.value):
            return None
        return f"value {compact(value)} does not match the pattern {pattern.value}"

    return _per_value(test)


@_component("languageIn")
def _language_in(compiler: _Compiler, node: Term, listed: Term) -> _Check:
    ranges = [r.value.lower() for r in compiler.rdf_list(listed) if isinstance(r, ox.Literal)]

    def test(data: _Data, value: Term, depth: int) -> str | None:
        tag = value.language.lower() if isinstance(value, ox.Literal) and value.language else None
        if tag and any(tag == r or tag.startswith(r + "-") or r == "*" for r in ranges):
            return None
        return f"value {compact(value)} is not in one of the languages {', '.join(ranges)}"

    return _per_value(test)


@_component("uniqueLang")
def _unique_lang(compiler: _Compiler, node: Term, flag: Term) -> _Check:
    active = isinstance(flag, ox.Literal) and flag.value == "true"

    def check(
        data: _Data, focus: Term, values: list[Term], depth: int
    ) -> Iterator[tuple[Term | None, str]]:
        if not active:
            return
        seen: dict[str, int] = {}
        for value in values:
            if isinstance(value, ox.Literal) and value.language:
                seen[value.language.lower()] = seen.get(value.language.lower(), 0) + 1
        for tag, count in sorted(seen.items()):
            if count > 1:
                yield None, f"{count} values share the language tag {tag!r}"

    return check


@_component("in")
def _in(compiler: _Compiler, node: Term, listed: Term) -> _Check:
    allowed = frozenset(compiler.rdf_list(listed))
    preview = ", ".join(compact(item) for item in compiler.rdf_list(listed)[:6])
    more = ", …" if len(allowed) > 6 else ""

    def test(data: _Data, value: Term, depth: int) -> str | None:
        if value in allowed:
            return None
        return f"value {compact(value)} is not one of the allowed values ({preview}{more})"

    return _per_value(test)


@_component("hasValue")
def _has_value(compiler: _Compiler, node: Term, wanted: Term) -> _Check:
    def check(
        data: _Data, focus: Term, values: list[Term], depth: int
    ) -> Iterator[tuple[Term | None, str]]:
        if wanted not in values:
            yield None, f"missing the required value {compact(wanted)}"

    return check


@_component("node")
def _node(compiler: _Compiler, node: Term, target: Term) -> _Check:
    shape = compiler.shape(target)

    def test(data: _Data, value: Term, depth: int) -> str | None:
        first = next(_evaluate(shape, data, value, depth + 1), None)
        if first is None:
            return None
        return f"value {compact(value)} does not conform to {compact(target)}: {first.message}"

    return _per_value(test)


@_component("not")
def _not(compiler: _Compiler, node: Term, target: Term) -> _Check:
    shape = compiler.shape(target)

    def test(data: _Data, value: Term, depth: int) -> str | None:
        if not _conforms(shape, data, value, depth):
            return None
        return f"value {compact(value)} conforms to the shape {compact(target)}, which is excluded"

    return _per_value(test)


def _logical(name: str, accept: Callable[[int, int], bool], words: str) -> None:
    @_component(name)
    def factory(compiler: _Compiler, node: Term, listed: Term) -> _Check:
        members = [compiler.shape(item) for item in compiler.rdf_list(listed)]

        def test(data: _Data, value: Term, depth: int) -> str | None:
            passed = sum(_conforms(member, data, value, depth) for member in members)
            if accept(passed, len(members)):
                return None
            return f"value {compact(value)} {words}"

        return _per_value(test)


_logical("and", lambda passed, total: passed == total, "does not conform to all of the shapes")
_logical("or", lambda passed, total: passed >= 1, "conforms to none of the alternatives")
_logical("xone", lambda passed, total: passed == 1, "does not conform to exactly one shape")


# --- literals -----------------------------------------------------------------------------------

_INTEGER_TYPES = {
    "integer", "int", "long", "short", "byte", "nonNegativeInteger", "positiveInteger",
    "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
    "unsignedByte",
}  # fmt: skip
_LEXICAL = {
    "decimal": re.compile(r"[+-]?(\d+(\.\d*)?|\.\d+)"),
    "double": re.compile(r"([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN)"),
    "float": re.compile(r"([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?|[+-]?INF|NaN)"),
    "boolean": re.compile(r"true|false|1|0"),
    "duration": re.compile(
        r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?"
    ),
    "hexBinary": re.compile(r"([0-9a-fA-F]{2})*"),
    "anyURI": re.compile(r"[^\s<>\"{}|\\^`]*"),
    "gYear": re.compile(r"-?\d{4,}(Z|[+-]\d{2}:\d{2})?"),
}


def _well_formed(lexical: str, datatype: str) -> bool:
    """Whether ``lexical`` is in the lexical space of the XSD ``datatype`` (others: true)."""
    if not datatype.startswith(XSD):
        return True
    name = datatype[len(XSD) :]
    if name in _INTEGER_TYPES:
        if not re.fullmatch(r"[+-]?\d+", lexical):
            return False
        number = int(lexical)
        if name in ("nonNegativeInteger", "positiveInteger") or name.startswith("unsigned"):
            return number > 0 if name == "positiveInteger" else number >= 0
        if name in ("nonPositiveInteger", "negativeInteger"):
            return number < 0 if name == "negativeInteger" else number <= 0
        return True
    if name in ("date", "dateTime", "dateTimeStamp"):
        return _temporal(lexical, name) is not None
    pattern = _LEXICAL.get(name)
    return pattern is None or pattern.fullmatch(lexical) is not None


def _temporal(lexical: str, name: str) -> dt.date | dt.datetime | None:
    shape = {
        "date": r"\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})?",
        "dateTime": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?",
        "dateTimeStamp": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})",
    }[name]
    if not re.fullmatch(shape, lexical):
        return None
    try:
        if name == "date":
            return dt.date.fromisoformat(lexical[:10])
        return dt.datetime.fromisoformat(lexical)
    except ValueError:
        return None


def _compare(value: Term, bound: Term) -> int | None:
    """-1, 0 or 1 comparing two literals of comparable datatypes; ``None`` if incomparable."""
    if not isinstance(value, ox.Literal) or not isinstance(bound, ox.Literal):
        return None
    left, right = _ordinal(value), _ordinal(bound)
    if left is None or right is None or type(left) is not type(right):
        return None
    try:
        return (left > right) - (left < right)  # type: ignore[operator]
    except TypeError:  # naive against aware date-times
        return None


def _ordinal(literal: ox.Literal) -> Decimal | dt.date | dt.datetime | None:
    name = literal.datatype.value.removeprefix(XSD)
    if name in _INTEGER_TYPES or name in ("decimal", "double", "float"):
        if not _well_formed(literal.value, literal.datatype.value):
            return None
        try:
            return Decimal(literal.value.replace("INF", "Infinity"))
        except InvalidOperation:
            return None
    if name in ("date", "dateTime", "dateTimeStamp"):
        return _temporal(literal.value, name)
    return None


# --- credentials --------------------------------------------------------------------------------


def subject_triples(quads: Iterable[ox.Quad]) -> list[Triple]:
    """The statements a credential (or presentation) makes about its subjects.

    Proof graphs and the statements about credential and presentation nodes themselves are left
    out: a Gaia-X credential carries its subject's class in ``type`` too, and the shapes for
    ``gx:LegalPerson`` must not be applied to the credential envelope.
    """
    listed = list(quads)
    proof_graphs = {q.object for q in listed if q.predicate == SEC_PROOF}
    envelope_types = {
        ox.NamedNode(CRED + "VerifiableCredential"),
        ox.NamedNode(CRED + "VerifiablePresentation"),
    }
    envelopes = {q.subject for q in listed if q.predicate == _TYPE and q.object in envelope_types}
    return [
        (q.subject, q.predicate, q.object)  # type: ignore[misc]
        for q in listed
        if q.graph_name not in proof_graphs and q.subject not in envelopes
    ]


def validate_credential(
    credential: Mapping[str, Any],
    shapes: Shapes,
    *,
    loader: PinnedLoader,
    supporting: Sequence[Mapping[str, Any]] | Supporting = (),
    limits: Limits = DEFAULT_LIMITS,
) -> ShaclReport:
    """Validate a JSON-LD credential's subjects; ``supporting`` documents answer references.

    Terms the document's contexts do not define are reported as violations too (JSON-LD would
    drop them, so they would be neither signed nor validated).
    """
    converted = to_quads(credential, loader=loader, limits=limits)
    if not isinstance(supporting, Supporting):
        supporting = supporting_documents(supporting, loader=loader, limits=limits)
    report = shapes.validate(subject_triples(converted.quads), supporting=supporting)
    return _with_undefined(report, credential, converted.undefined)


def supporting_documents(
    documents: Iterable[Mapping[str, Any]],
    *,
    loader: PinnedLoader,
    limits: Limits = DEFAULT_LIMITS,
) -> Supporting:
    """The subject statements of JSON-LD documents, indexed as supporting data."""
    triples: list[Triple] = []
    for document in documents:
        triples.extend(subject_triples(to_quads(document, loader=loader, limits=limits).quads))
    return Supporting(triples)


def validate_together(
    credentials: Mapping[str, Mapping[str, Any]],
    shapes: Shapes,
    *,
    loader: PinnedLoader,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, ShaclReport]:
    """Validate each credential of a set with all the others as supporting documents."""
    converted = {
        key: to_quads(document, loader=loader, limits=limits)
        for key, document in credentials.items()
    }
    graphs = {key: subject_triples(result.quads) for key, result in converted.items()}
    reports: dict[str, ShaclReport] = {}
    for key, document in credentials.items():
        others = [t for other, triples in graphs.items() if other != key for t in triples]
        report = shapes.validate(graphs[key], supporting=others)
        reports[key] = _with_undefined(report, document, converted[key].undefined)
    return reports


def _with_undefined(
    report: ShaclReport, credential: Mapping[str, Any], undefined: Sequence[UndefinedTerm]
) -> ShaclReport:
    if not undefined:
        return report
    focus = str(credential.get("id", "(credential)"))
    extra = (
        Violation(
            focus_node=focus,
            path=item.path,
            message=f"term {item.term!r} is not defined by the document's contexts",
            component="undefinedTerm",
        )
        for item in undefined
    )
    return ShaclReport(tuple(sorted({*report.violations, *extra}, key=Violation.sort_key)))


SHAPE_FILES = ("gaia-x.ttl", "dcat-ap-de.ttl", "klimakommune.ttl")


@functools.lru_cache(maxsize=1)
def project_shapes() -> Shapes:
    """The project's own shapes shipped in ``connector/credentials/shapes/`` (compiled once)."""
    folder = resources.files("connector.credentials") / "shapes"
    return Shapes.parse(*((folder / name).read_text(encoding="utf-8") for name in SHAPE_FILES))
