"""RDF terms and the namespaces the policy engine speaks.

Terms are deliberately tiny: an :class:`IRI` and a :class:`BNode` are ``str`` subclasses (so they
hash and compare at C speed) and a :class:`Literal` is a frozen value object. Blank-node labels
always start with ``_:`` so that they never collide with an IRI.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final


class IRI(str):
    """An absolute IRI."""

    __slots__ = ()


class BNode(str):
    """A blank node; the label includes the ``_:`` prefix."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Literal:
    """An RDF literal: lexical form, datatype IRI and optional language tag."""

    lexical: str
    datatype: str
    language: str | None = None

    def __str__(self) -> str:
        return self.lexical


Node = IRI | BNode
Term = IRI | BNode | Literal


class Namespace:
    """A namespace IRI; ``NS["term"]`` and ``NS.term`` build an :class:`IRI`.

    Not a ``str`` subclass on purpose: ``DCT.title`` must be an IRI, not ``str.title``.
    """

    __slots__ = ("_base", "_terms")

    def __init__(self, base: str) -> None:
        self._base = base
        self._terms: dict[str, IRI] = {}

    def __getitem__(self, name: str) -> IRI:
        return IRI(self._base + name)

    def __getattr__(self, name: str) -> IRI:
        if name.startswith("__") or name in ("_base", "_terms"):
            raise AttributeError(name)
        term = self._terms.get(name)
        if term is None:  # the attribute spellings are the vocabulary's terms: few, reused
            term = self._terms[name] = IRI(self._base + name)
        return term

    def __str__(self) -> str:
        return self._base

    def __len__(self) -> int:
        return len(self._base)


ODRL: Final = Namespace("http://www.w3.org/ns/odrl/2/")
RDF: Final = Namespace("http://www.w3.org/1999/02/22-rdf-syntax-ns#")
RDFS: Final = Namespace("http://www.w3.org/2000/01/rdf-schema#")
XSD: Final = Namespace("http://www.w3.org/2001/XMLSchema#")
DCT: Final = Namespace("http://purl.org/dc/terms/")
SKOS: Final = Namespace("http://www.w3.org/2004/02/skos/core#")
REPORT: Final = Namespace("https://w3id.org/force/compliance-report#")
SOTW: Final = Namespace("https://w3id.org/force/sotw#")
ODRL_FS: Final = Namespace("https://w3id.org/odrl-fs#")
GEO: Final = Namespace("http://www.opengis.net/ont/geosparql#")
CC: Final = Namespace("http://creativecommons.org/ns#")
DSPACE: Final = Namespace("https://w3id.org/dspace/2025/1/")
DPV: Final = Namespace("https://w3id.org/dpv#")
KK: Final = Namespace("https://w3id.org/klimakommune/policy#")
"""Project namespace for terms ODRL does not have (documented in docs/policy.md)."""

RDF_TYPE: Final = RDF.type
XSD_STRING: Final = XSD.string
RDF_LANGSTRING: Final = RDF.langString

PREFIXES: Final[dict[str, str]] = {
    "odrl": str(ODRL),
    "report": str(REPORT),
    "sotw": str(SOTW),
    "odrl-fs": str(ODRL_FS),
    "xsd": str(XSD),
    "rdf": str(RDF),
    "rdfs": str(RDFS),
    "dct": str(DCT),
    "geo": str(GEO),
    "dpv": str(DPV),
    "kk": str(KK),
    "cc": str(CC),
    "dspace": str(DSPACE),
}


def local_name(iri: str) -> str:
    """The part of an IRI after the last ``#``, ``/`` or ``:`` (for messages and labels)."""
    for sep in ("#", "/", ":"):
        _, found, tail = iri.rpartition(sep)
        if found and tail:
            return tail
    return iri


RELATIVE_BASE: Final = "https://relative.invalid/"
"""The base IRI JSON-LD policies are read against (:mod:`connector.policy.reader`), which
turns the IRIs under it back into the relative references they were (``fly``, ``energy``)."""


@functools.lru_cache(maxsize=8192)
def curie(iri: str) -> str:
    """``odrl:read`` for a known namespace, else the IRI itself."""
    for prefix, ns in PREFIXES.items():
        if iri.startswith(ns) and len(iri) > len(ns):
            return f"{prefix}:{iri[len(ns) :]}"
    return iri


def string(value: str) -> Literal:
    """A plain ``xsd:string`` literal."""
    return Literal(value, XSD_STRING)
