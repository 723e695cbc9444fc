"""JSON-LD with pinned contexts only: the document loader, input limits, and JSON-LD → RDF.

A document never causes a network fetch. :class:`PinnedLoader` serves pyld's frozen bundle
(W3C credentials v1/v2, DID v1, security v1/v2, jws-2020, ed25519-2020) plus the context
documents the project ships below ``connector/credentials/contexts/``: every ``index.json``
there maps context URLs to files relative to itself, so each vocabulary folder registers its own
contexts. Any other URL raises :class:`~connector.errors.UnknownContext`.

:func:`to_quads` turns a document into RDF quads with one of two engines:

* ``oxigraph`` (default): the document's context references are replaced by the pinned context
  documents (inlined, so pyoxigraph's JSON-LD parser never needs a loader) and parsed natively.
  Documents that use ``@direction``, ``@json`` or numbers beyond 2**53 go through pyld instead,
  because the two processors turn those into RDF differently (pyld like jsonld.js).
* ``pyld``: JSON-LD expansion and toRDF in pure Python (the reference path for benchmarks).

Both engines also report *undefined terms*: properties and types that the active contexts do not
define. JSON-LD drops them silently (the credentials v2 context has no ``@vocab``), so the
content would be neither signed nor validated. A sentinel ``@vocab`` is put in front of the
document's contexts; whatever expands into it was undefined.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pyoxigraph as ox
from pyld import jsonld as pyld_jsonld
from pyld.documentloader.frozen import BUNDLED_CONTEXTS

from connector.errors import Invalid, PayloadTooLarge, UnknownContext

CONTEXTS_DIR = Path(__file__).parent / "contexts"
UNDEFINED_VOCAB = "urn:x-connector:undefined-term:"
"""The sentinel ``@vocab``: an IRI under it names a term the document's contexts do not define."""

Engine = Literal["oxigraph", "pyld"]
_BIG_NUMBER = "\x00big-number"


@dataclass(frozen=True)
class Limits:
    """Bounds on what a hostile document can make the trust layer do."""

    max_bytes: int = 1_000_000
    """Size of the serialized document (request bodies are checked before parsing)."""
    max_depth: int = 32
    """Nesting depth of JSON objects and arrays."""
    max_values: int = 100_000
    """Number of JSON values (objects, arrays, scalars) in the document."""
    max_quads: int = 20_000
    """RDF quads produced by the document."""
    max_blank_nodes: int = 2_000
    """Distinct blank nodes in the RDF form."""
    canonicalization_seconds: float = 1.0
    """Time budget of the RDFC-1.0 blank-node labelling (checked while it runs)."""
    max_ndegree_steps: int = 50_000
    """Work budget (hash N-degree quads calls and permutations) of RDFC-1.0."""


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class UndefinedTerm:
    """A property or type name that the active contexts do not define."""

    term: str
    path: str
    """JSON path of the occurrence, e.g. ``$.credentialSubject.colour`` or ``$.type[1]``."""


@dataclass(frozen=True)
class Quads:
    """The RDF form of a document and the undefined terms found while producing it."""

    quads: list[ox.Quad]
    undefined: list[UndefinedTerm]


# --- input limits -----------------------------------------------------------------------------


def parse_json(body: bytes | str, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Parse a request body as JSON, refusing oversized or too deeply nested input."""
    size = len(body.encode() if isinstance(body, str) else body)
    if size > limits.max_bytes:
        raise PayloadTooLarge(
            f"document of {size} bytes exceeds the limit of {limits.max_bytes}", reason="too_large"
        )
    try:
        value = json.loads(body)
    except RecursionError as exc:
        raise PayloadTooLarge("document nesting is too deep", reason="too_deep") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise Invalid(f"not JSON: {exc}", reason="bad_json") from exc
    precheck(value, limits)
    return value


def precheck(document: Any, limits: Limits = DEFAULT_LIMITS) -> None:
    """Check nesting depth and value count of an already parsed document (no recursion)."""
    _scan(document, limits)


# --- the loader -------------------------------------------------------------------------------


def project_contexts(root: Path = CONTEXTS_DIR) -> dict[str, Path]:
    """Every context the project ships: the union of all ``index.json`` files below ``root``."""
    found: dict[str, Path] = {}
    for index in sorted(root.rglob("index.json")):
        entries = json.loads(index.read_text(encoding="utf-8"))
        if not isinstance(entries, dict):
            raise Invalid(f"{index} must map context URLs to file names", reason="bad_context")
        for url, relative in entries.items():
            path = (index.parent / str(relative)).resolve()
            if url in found and found[url] != path:
                raise Invalid(f"context {url} is pinned twice", reason="bad_context")
            found[url] = path
    return found


class PinnedLoader:
    """A pyld document loader (and context inliner) that serves only pinned context documents."""

    def __init__(
        self,
        documents: Mapping[str, Path | Mapping[str, Any]] | None = None,
        *,
        bundled: bool = True,
    ) -> None:
        """``documents`` maps URLs to files or parsed documents; default: the project's contexts.

        pyld's frozen bundle is included unless ``bundled`` is false; ``documents`` win on clashes.
        """
        sources: dict[str, Path | Mapping[str, Any]] = dict(BUNDLED_CONTEXTS) if bundled else {}
        sources.update(project_contexts() if documents is None else documents)
        self._sources = sources
        self._documents: dict[str, dict[str, Any]] = {}
        self._inlined: dict[str, Any] = {}
        self._features: dict[str, frozenset[str]] = {}
        self._combinations: set[tuple[str, ...]] = set()
        self._references: dict[str, Mapping[str, frozenset[str]]] = {}

    def with_documents(self, extra: Mapping[str, Path | Mapping[str, Any]]) -> PinnedLoader:
        """A new loader serving these documents too (tests pin example contexts this way)."""
        return PinnedLoader({**self._sources, **extra}, bundled=False)

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(self._sources)

    def document(self, url: str) -> dict[str, Any]:
        """The pinned context document of ``url``, or :class:`UnknownContext`."""
        cached = self._documents.get(url)
        if cached is not None:
            return cached
        source = self._sources.get(url)
        if source is None:
            raise UnknownContext(
                f"unknown JSON-LD context: {url}", reason="unknown_context", url=url
            )
        if isinstance(source, Path):
            parsed = json.loads(source.read_text(encoding="utf-8"))
        else:
            parsed = json.loads(json.dumps(source))
        if not isinstance(parsed, dict) or "@context" not in parsed:
            raise Invalid(f"pinned context {url} has no @context", reason="bad_context")
        self._documents[url] = parsed
        return parsed

    def __call__(self, url: str, options: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """pyld's loader contract: a RemoteDocument for a pinned URL."""
        return {
            "contentType": "application/ld+json",
            "contextUrl": None,
            "documentUrl": url,
            "document": self.document(url),
        }

    def inlined(self, url: str) -> Any:
        """The context of ``url`` with every nested context reference and ``@import`` resolved."""
        return self._inline(url, (), remote=True)

    def references(self, url: str) -> Mapping[str, frozenset[str]]:
        """The reference graph of the inlined context of ``url`` (for pruning), cached."""
        cached = self._references.get(url)
        if cached is None:
            cached = _references(self.inlined(url))
            self._references[url] = cached
        return cached

    def features(self, url: str) -> frozenset[str]:
        """Which of ``@direction``/``@json`` the (inlined) context of ``url`` uses."""
        self.inlined(url)
        return self._features[url]

    def check_combination(self, urls: tuple[str, ...]) -> None:
        """Process these pinned contexts together once (protected-term clashes raise)."""
        if urls in self._combinations:
            return
        _ox_parse({"@context": self.inline(list(urls))})
        self._combinations.add(urls)

    def inline(self, context: Any) -> Any:
        """A local ``@context`` value with every URL replaced by its pinned (inlined) context."""
        return self._inline(context, (), remote=False)

    def _inline(self, context: Any, seen: tuple[str, ...], *, remote: bool) -> Any:
        if isinstance(context, str):
            if context in seen or len(seen) > 8:
                raise Invalid(f"context recursion at {context}", reason="bad_context")
            cached = self._inlined.get(context)
            if cached is None:
                document = self.document(context)["@context"]
                cached = self._inline(document, (*seen, context), remote=True)
                self._inlined[context] = cached
                self._features[context] = frozenset(_features_in(cached))
            return cached
        if isinstance(context, list):
            out: list[Any] = []
            for item in context:
                resolved = self._inline(item, seen, remote=remote)
                out.extend(resolved if isinstance(resolved, list) else [resolved])
            return out
        if not isinstance(context, dict):
            return context
        result: dict[str, Any] = {}
        imported = context.get("@import")
        if isinstance(imported, str):
            base = self._inline(imported, seen, remote=True)
            if not isinstance(base, dict):
                raise Invalid(f"@import of {imported} is not a map", reason="bad_context")
            result.update(base)
        for key, value in context.items():
            if key == "@import" or (remote and key == "@base"):
                continue  # a remote context's @base is ignored (JSON-LD 1.1, 4.1.2 step 5.2)
            if isinstance(value, dict) and "@context" in value:
                scoped = self._inline(value["@context"], seen, remote=False)
                result[key] = {**value, "@context": scoped}
            else:
                result[key] = value
        return result


@functools.lru_cache(maxsize=1)
def default_loader() -> PinnedLoader:
    """The process-wide loader over pyld's bundle and the project's shipped contexts."""
    return PinnedLoader()


def _features_in(value: Any) -> Iterator[str]:
    """Keys that oxigraph and pyld turn into RDF differently: ``@direction`` and ``@json`` terms.

    Yields ``@direction``/``@json`` where they appear as keys or values, and the names of terms
    whose definition has ``"@type": "@json"``.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if key == "@direction":
                    yield key
                if isinstance(child, dict) and child.get("@type") == "@json":
                    yield key
                stack.append(child)
        elif isinstance(item, list):
            stack.extend(item)
        elif item in ("@json", "@direction"):
            yield str(item)


# --- JSON-LD → RDF ----------------------------------------------------------------------------


def to_quads(
    document: Mapping[str, Any],
    *,
    loader: PinnedLoader,
    limits: Limits = DEFAULT_LIMITS,
    engine: Engine = "oxigraph",
) -> Quads:
    """The RDF quads of ``document`` and the terms its contexts leave undefined.

    The quads are only meaningful when ``undefined`` is empty (an undefined property's value is
    kept apart instead of being dropped).
    """
    names, contexts = _scan(document, limits)
    if engine == "oxigraph" and not _needs_pyld(names, contexts, loader):
        quads = _oxigraph_quads(document, names, contexts, loader)
    else:
        quads = _pyld_quads(document, loader)
    if len(quads) > limits.max_quads:
        raise PayloadTooLarge(
            f"document produces more than {limits.max_quads} quads", reason="too_many_quads"
        )
    undefined: set[str] = set()
    kept: list[ox.Quad] = []
    for quad in quads:
        hit = False
        for term in (quad.predicate, quad.object):
            if isinstance(term, ox.NamedNode) and term.value.startswith(UNDEFINED_VOCAB):
                undefined.add(term.value[len(UNDEFINED_VOCAB) :])
                hit = True
        if not hit:
            kept.append(quad)
    return Quads(quads=kept, undefined=_locate(document, undefined) if undefined else [])


def undefined_terms(
    document: Mapping[str, Any], *, loader: PinnedLoader, limits: Limits = DEFAULT_LIMITS
) -> list[UndefinedTerm]:
    """Properties and types of ``document`` that its contexts do not define, with JSON paths."""
    return to_quads(document, loader=loader, limits=limits).undefined


def _with_sentinel(context: Any) -> list[Any]:
    rest = context if isinstance(context, list) else [] if context is None else [context]
    return [{"@vocab": UNDEFINED_VOCAB}, *rest]


def _scan(document: Any, limits: Limits) -> tuple[set[str], list[Any]]:
    """One pass: the limits of :func:`precheck`, every key and string, every ``@context``."""
    names: set[str] = set()
    contexts: list[Any] = []
    count = 0
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        count += 1
        if count > limits.max_values:
            raise PayloadTooLarge(
                f"document has more than {limits.max_values} JSON values", reason="too_large"
            )
        if isinstance(value, str):
            names.add(value)
            continue
        if isinstance(value, int | float) and not isinstance(value, bool) and abs(value) >= 2**53:
            names.add(_BIG_NUMBER)  # pyld writes these like JavaScript (jsonld.js) does
            continue
        if isinstance(value, dict):
            names.update(value)
            if "@context" in value:
                contexts.append(value["@context"])
            children: Any = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > limits.max_depth:
            raise PayloadTooLarge(
                f"document nesting exceeds depth {limits.max_depth}", reason="too_deep"
            )
        stack.extend((child, depth + 1) for child in children)
    names.update([name.split(":", 1)[0] for name in names if ":" in name])
    return names, contexts


def _context_items(context: Any) -> list[Any]:
    return context if isinstance(context, list) else [context]


def _needs_pyld(names: set[str], contexts: list[Any], loader: PinnedLoader) -> bool:
    """Whether the document uses ``@direction`` or a ``@json``-typed term (see module doc)."""
    special: set[str] = {"@direction", "@json", _BIG_NUMBER}
    for context in contexts:
        for item in _context_items(context):
            if isinstance(item, str):
                special |= loader.features(item)
            else:
                special.update(_features_in(item))
    return not special.isdisjoint(names)


def _inline_document(value: Any, loader: PinnedLoader) -> Any:
    if isinstance(value, dict):
        return {
            key: loader.inline(child) if key == "@context" else _inline_document(child, loader)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_inline_document(child, loader) for child in value]
    return value


def _oxigraph_quads(
    document: Mapping[str, Any], names: set[str], contexts: list[Any], loader: PinnedLoader
) -> list[ox.Quad]:
    top = document.get("@context")
    loader.check_combination(tuple(u for u in _context_items(top) if isinstance(u, str)))
    needed = set(names)
    graphs: list[Mapping[str, frozenset[str]]] = []
    for context in contexts:
        for item in _context_items(context):
            graphs.append(loader.references(item) if isinstance(item, str) else _references(item))
    pending = [*needed, "@"]
    while pending:
        name = pending.pop()
        for graph in graphs:
            for ref in graph.get(name, ()):
                if ref not in needed:
                    needed.add(ref)
                    pending.append(ref)
    inlined = _prune_contexts(_inline_document(dict(document), loader), needed)
    inlined["@context"] = _with_sentinel(inlined.get("@context"))
    return [_jsonld_js_double(quad) for quad in _ox_parse(inlined)]


_XSD_DOUBLE = "http://www.w3.org/2001/XMLSchema#double"
_DOUBLE_EXPONENT = re.compile(r"(\d)0*E\+?(-)?0*(\d)")


def _jsonld_js_double(quad: ox.Quad) -> ox.Quad:
    """Write ``xsd:double`` literals as jsonld.js and pyld do (``toExponential(15)``, trimmed).

    pyoxigraph writes the shortest round-trip form; the JSON-LD processors that sign most
    credentials in the field (jsonld.js, and pyld after it) write 15 fraction digits, also for
    string values typed ``xsd:double``. Both forms denote the same double, so it is recovered
    exactly from pyoxigraph's form.
    """
    literal = quad.object
    if not isinstance(literal, ox.Literal) or literal.datatype.value != _XSD_DOUBLE:
        return quad
    try:
        value = float(literal.value)
    except ValueError:
        return quad
    lexical = _DOUBLE_EXPONENT.sub(r"\1E\2\3", f"{value:1.15E}")
    if lexical == literal.value:
        return quad
    return ox.Quad(
        quad.subject,
        quad.predicate,
        ox.Literal(lexical, datatype=literal.datatype),
        quad.graph_name,
    )


def _ox_parse(document: Mapping[str, Any]) -> list[ox.Quad]:
    try:
        return list(ox.parse(json.dumps(document), format=ox.RdfFormat.JSON_LD))
    except SyntaxError as exc:
        raise Invalid(f"invalid JSON-LD: {exc}", reason="bad_jsonld") from exc


# --- context pruning (speed: pyoxigraph processes inlined contexts on every parse) -------------
#
# A term definition that the document never names cannot influence its expansion: expansion
# consults definitions only for keys, type values, ``@vocab``-typed values and compact-IRI
# prefixes, all of which occur in the document as strings. Definitions referenced by kept
# definitions (prefixes, aliases, ``@nest`` targets) are kept too (a closure over
# :func:`_references`). The one effect of an unused definition, a protected-term clash between
# pinned contexts, is checked once per combination of context URLs
# (:meth:`PinnedLoader.check_combination`).


def _references(context: Any) -> dict[str, frozenset[str]]:
    """For each term (``"@"`` for keywords): the names its definitions refer to, at any depth."""
    refs: dict[str, set[str]] = {}
    stack = [context]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        for key, value in item.items():
            target = refs.setdefault("@" if key.startswith("@") else key, set())
            values = value.items() if isinstance(value, dict) else [("", value)]
            for inner_key, inner in values:
                if inner_key == "@context":
                    stack.append(inner)
                elif isinstance(inner, str):
                    target.add(inner)
                    if ":" in inner:
                        target.add(inner.split(":", 1)[0])
    return {key: frozenset(value) for key, value in refs.items()}


def _pruned(context: Any, needed: set[str]) -> Any:
    if isinstance(context, list):
        return [_pruned(item, needed) for item in context]
    if not isinstance(context, dict):
        return context
    result: dict[str, Any] = {}
    for key, value in context.items():
        if key.startswith("@") or key in needed:
            if isinstance(value, dict) and "@context" in value:
                result[key] = {**value, "@context": _pruned(value["@context"], needed)}
            else:
                result[key] = value
    return result


def _prune_contexts(value: Any, needed: set[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: _pruned(child, needed) if key == "@context" else _prune_contexts(child, needed)
            for key, child in value.items()
        }
    if isinstance(value, list):
        return [_prune_contexts(child, needed) for child in value]
    return value


def _pyld_quads(document: Mapping[str, Any], loader: PinnedLoader) -> list[ox.Quad]:
    prepared = dict(document)
    prepared["@context"] = _with_sentinel(prepared.get("@context"))
    try:
        dataset = pyld_jsonld.to_rdf(prepared, {"documentLoader": loader})
    except pyld_jsonld.JsonLdError as exc:
        cause: Any = exc
        while cause is not None:
            if isinstance(cause, Invalid):
                raise cause from exc
            cause = getattr(cause, "cause", None) or cause.__cause__
        raise Invalid(f"invalid JSON-LD: {exc.code}", reason="bad_jsonld") from exc
    quads: list[ox.Quad] = []
    for graph, triples in dataset.items():
        graph_name = ox.DefaultGraph() if graph == "@default" else _node(graph)
        for triple in triples:
            quads.append(
                ox.Quad(
                    _term(triple["subject"]),
                    _term(triple["predicate"]),
                    _term(triple["object"]),
                    graph_name,
                )
            )
    return quads


def _node(value: str) -> ox.NamedNode | ox.BlankNode:
    return ox.BlankNode(value[2:]) if value.startswith("_:") else ox.NamedNode(value)


def _term(term: Mapping[str, Any]) -> Any:
    kind = term["type"]
    if kind == "IRI":
        return ox.NamedNode(term["value"])
    if kind == "blank node":
        return ox.BlankNode(term["value"][2:])
    if "language" in term:
        return ox.Literal(term["value"], language=term["language"])
    return ox.Literal(term["value"], datatype=ox.NamedNode(term["datatype"]))


def _locate(document: Any, names: set[str]) -> list[UndefinedTerm]:
    """JSON paths of the keys and type values named in ``names`` (contexts are skipped)."""
    found: list[UndefinedTerm] = []
    stack: list[tuple[Any, str]] = [(document, "$")]
    while stack:
        value, path = stack.pop()
        if isinstance(value, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(value))
            continue
        if not isinstance(value, dict):
            continue
        for key, child in value.items():
            if key == "@context":
                continue
            child_path = f"{path}.{key}"
            if key in names:
                found.append(UndefinedTerm(term=key, path=child_path))
            if key in ("type", "@type"):
                types = child if isinstance(child, list) else [child]
                for i, name in enumerate(types):
                    if isinstance(name, str) and name in names:
                        where = f"{child_path}[{i}]" if isinstance(child, list) else child_path
                        found.append(UndefinedTerm(term=name, path=where))
            elif isinstance(child, str) and child in names:
                found.append(UndefinedTerm(term=child, path=child_path))
            else:
                stack.append((child, child_path))
    found.sort(key=lambda item: item.path)
    return found or [UndefinedTerm(term=name, path="$") for name in sorted(names)]
