"""Read JSON-LD (compacted or expanded) and Turtle/N-Triples into a :class:`Graph`.

Parsing uses pyoxigraph (measured ~20x faster than rdflib on the ODRL test suite's largest
policy). JSON-LD contexts are inlined from pinned copies before parsing, so nothing is fetched.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final
from typing import Literal as TypingLiteral

import pyoxigraph as ox

from connector.errors import Invalid, PayloadTooLarge
from connector.policy.contexts import ContextLoader, inline_contexts, undefined_keys
from connector.policy.graph import Graph
from connector.policy.terms import IRI, RELATIVE_BASE, XSD_STRING, BNode, Literal, Node, Term

Syntax = TypingLiteral["json-ld", "turtle", "n-triples"]

MAX_INPUT_BYTES: Final = 8 * 1024 * 1024
MAX_TRIPLES: Final = 250_000

_FORMATS: Final = {
    "json-ld": ox.RdfFormat.JSON_LD,
    "turtle": ox.RdfFormat.TURTLE,
    "n-triples": ox.RdfFormat.N_TRIPLES,
}


def guess_syntax(data: str | bytes | Mapping[str, Any] | list[Any]) -> Syntax:
    """JSON-LD for mappings, lists and text starting with ``{``/``[``, else Turtle."""
    if isinstance(data, (Mapping, list)):
        return "json-ld"
    head = data[:256].lstrip()
    if isinstance(head, bytes):
        head = head.decode("utf-8", "replace")
    return "json-ld" if head[:1] in ("{", "[") else "turtle"


def read_graph(
    data: str | bytes | Mapping[str, Any] | list[Any],
    syntax: Syntax | None = None,
    *,
    context_loader: ContextLoader | None = None,
    source: str = "input",
) -> Graph:
    """Parse RDF into a graph; malformed input raises :class:`Invalid` naming the place."""
    syntax = syntax or guess_syntax(data)
    if syntax == "json-ld":
        payload = _jsonld_payload(data, context_loader, source)
    else:
        if isinstance(data, (Mapping, list)):
            raise Invalid(f"{source}: {syntax} input must be text", reason="policy_syntax")
        payload = data.encode("utf-8") if isinstance(data, str) else data
    if len(payload) > MAX_INPUT_BYTES:
        raise PayloadTooLarge(f"{source}: input larger than {MAX_INPUT_BYTES} bytes")
    graph = Graph()
    try:
        # without a base, a value that is no term of the context ("action": "fly", a typo;
        # "target": "energy") expands to a relative IRI and its triple is silently dropped:
        # a rule would lose its action or target and apply to every one. Kept as the
        # relative reference it was (see _iri), validation refuses an unknown action.
        base = RELATIVE_BASE if syntax == "json-ld" else None
        for quad in ox.parse(payload, format=_FORMATS[syntax], base_iri=base):
            graph.add(_node(quad.subject), _iri(quad.predicate.value), _term(quad.object))
            if len(graph) > MAX_TRIPLES:
                raise PayloadTooLarge(f"{source}: more than {MAX_TRIPLES} triples")
    except SyntaxError as exc:
        reason = "malformed_jsonld" if syntax == "json-ld" else "malformed_turtle"
        raise Invalid(f"{source}: malformed {syntax}: {exc}", reason=reason) from exc
    except ValueError as exc:
        reason = "malformed_jsonld" if syntax == "json-ld" else "malformed_turtle"
        raise Invalid(f"{source}: malformed {syntax}: {exc}", reason=reason) from exc
    return graph


def _jsonld_payload(
    data: str | bytes | Mapping[str, Any] | list[Any],
    loader: ContextLoader | None,
    source: str,
) -> bytes:
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_INPUT_BYTES:
            raise PayloadTooLarge(f"{source}: input larger than {MAX_INPUT_BYTES} bytes")
        try:
            document = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Invalid(f"{source}: malformed JSON: {exc}", reason="malformed_jsonld") from exc
    else:
        document = data
    if not isinstance(document, (dict, list)):
        raise Invalid(f"{source}: JSON-LD must be an object or array", reason="malformed_jsonld")
    inlined = inline_contexts(document, loader)
    unknown = undefined_keys(inlined)
    if unknown:
        names = ", ".join(f'"{key}"' for key in unknown[:10])
        raise Invalid(
            f"{source}: keys that no @context defines would be ignored: {names}",
            reason="unknown_terms",
            keys=unknown,
        )
    return json.dumps(inlined).encode("utf-8")


def _iri(value: str) -> IRI:
    """``value``, or the relative reference it was resolved from against RELATIVE_BASE."""
    if value.startswith(RELATIVE_BASE):
        return IRI(value[len(RELATIVE_BASE) :])
    return IRI(value)


def _node(term: Any) -> Node:
    if isinstance(term, ox.NamedNode):
        return _iri(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode("_:" + term.value)
    raise Invalid("unsupported RDF subject (quoted triple)", reason="policy_syntax")


def _term(term: Any) -> Term:
    if isinstance(term, ox.Literal):
        lang = term.language
        return Literal(term.value, term.datatype.value if term.datatype else XSD_STRING, lang)
    return _node(term)
