from __future__ import annotations

import json
from pathlib import Path

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.clock import FixedClock
from connector.credentials.canonical import (
    UndefinedTerms,
    canonical_nquads,
    canonicalize_quads,
    rdfc10_python,
)
from connector.credentials.jsonld import Limits, PinnedLoader
from connector.errors import PayloadTooLarge

P = ox.NamedNode("http://example.com/p")
Q = ox.NamedNode("http://example.com/q")


def _json(path: Path) -> dict[str, object]:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.mark.parametrize("engine", ["oxigraph", "pyld"])
@pytest.mark.parametrize(
    ("unsigned", "expected"),
    [
        ("unsigned.json", "eddsa-rdfc-2022/canonDocDataInt.txt"),
        ("employmentAuth.json", "eddsa-rdfc-2022/employ/canonDocDataInt.txt"),
    ],
)
def test_document_canonical_form_equals_the_vectors(
    di_vectors: Path, example_loader: PinnedLoader, engine: str, unsigned: str, expected: str
) -> None:
    document = _json(di_vectors / unsigned)
    canonical = canonical_nquads(document, loader=example_loader, engine=engine)  # type: ignore[arg-type]
    assert canonical == (di_vectors / expected).read_text(encoding="utf-8")


@pytest.mark.parametrize("folder", ["eddsa-rdfc-2022", "eddsa-rdfc-2022/employ"])
def test_proof_config_canonical_form_equals_the_vectors(
    di_vectors: Path, example_loader: PinnedLoader, folder: str
) -> None:
    config = _json(di_vectors / folder / "proofConfigDataInt.json")
    canonical = canonical_nquads(config, loader=example_loader)
    assert canonical == (di_vectors / folder / "proofCanonDataInt.txt").read_text(encoding="utf-8")


def test_control_characters_are_escaped_as_rdfc_requires(example_loader: PinnedLoader) -> None:
    document = {
        "@context": {"@vocab": "urn:ex:"},
        "@id": "urn:ex:s",
        "v": 'tab\there\u0001\u007f\nquote"back\\',
    }
    canonical = canonical_nquads(document, loader=example_loader)
    assert canonical == '<urn:ex:s> <urn:ex:v> "tab\\there\\u0001\\u007F\\nquote\\"back\\\\" .\n'


def _clique(size: int) -> list[ox.Quad]:
    """The RDFC-1.0 poison graph: blank nodes all linked to each other (and themselves)."""
    nodes = [ox.BlankNode(f"e{i}") for i in range(size)]
    return [ox.Quad(a, P, b) for a in nodes for b in nodes]


@pytest.mark.parametrize("size", [10, 16])
def test_poison_clique_is_refused_by_the_work_budget(size: int) -> None:
    with pytest.raises(PayloadTooLarge) as caught:
        canonicalize_quads(_clique(size))
    assert caught.value.reason == "canonicalization_budget"


def test_poison_clique_in_a_json_ld_document_is_refused(example_loader: PinnedLoader) -> None:
    nodes = [{"@id": f"_:n{i}"} for i in range(12)]
    graph = [{"@id": f"_:n{i}", "urn:ex:p": nodes} for i in range(12)]
    with pytest.raises(PayloadTooLarge) as caught:
        canonical_nquads({"@graph": graph}, loader=example_loader)
    assert caught.value.reason == "canonicalization_budget"


class _RunningClock(FixedClock):
    """Each reading of the monotonic clock advances it by 50 ms."""

    def monotonic(self) -> float:
        self.advance(0.05)
        return super().monotonic()


def test_time_budget_aborts_the_search() -> None:
    limits = Limits(max_ndegree_steps=10**9, canonicalization_seconds=1.0)
    with pytest.raises(PayloadTooLarge) as caught:
        canonicalize_quads(_clique(9), limits=limits, clock=_RunningClock())
    assert caught.value.reason == "canonicalization_budget"


def test_small_clique_within_budget_matches_oxigraph() -> None:
    quads = _clique(4)
    assert canonicalize_quads(quads) == rdfc10_python(quads)
    assert len(canonicalize_quads(quads).splitlines()) == 16


def test_blank_node_limit() -> None:
    quads = [ox.Quad(ox.BlankNode(f"b{i}"), P, ox.Literal(str(i))) for i in range(50)]
    with pytest.raises(PayloadTooLarge) as caught:
        canonicalize_quads(quads, limits=Limits(max_blank_nodes=20))
    assert caught.value.reason == "too_many_blank_nodes"


def test_undefined_terms_refuse_canonicalization(example_loader: PinnedLoader) -> None:
    document = {
        "@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential"],
        "issuer": "did:web:hagen.example",
        "colour": "red",
    }
    with pytest.raises(UndefinedTerms) as caught:
        canonical_nquads(document, loader=example_loader)
    assert caught.value.reason == "undefined_term"
    assert [(t.term, t.path) for t in caught.value.terms] == [("colour", "$.colour")]


_terms = st.sampled_from(
    [
        ox.NamedNode("urn:ex:a"),
        ox.NamedNode("urn:ex:b"),
        ox.Literal("x"),
        ox.Literal("y", language="de"),
    ]
)


@st.composite
def _graphs(draw: st.DrawFn) -> list[ox.Quad]:
    blanks = [ox.BlankNode(f"n{i}") for i in range(draw(st.integers(1, 6)))]
    nodes = st.sampled_from(blanks)
    objects = st.one_of(nodes, _terms)
    graph_names = st.sampled_from([ox.DefaultGraph(), ox.NamedNode("urn:ex:g"), blanks[0]])
    quads = draw(
        st.lists(
            st.builds(ox.Quad, nodes, st.sampled_from([P, Q]), objects, graph_names),
            min_size=1,
            max_size=14,
        )
    )
    return quads


@settings(max_examples=60, deadline=None)
@given(_graphs(), st.randoms(use_true_random=False))
def test_rdfc10_probe_agrees_with_oxigraph_and_ignores_labels(
    quads: list[ox.Quad], rnd: object
) -> None:
    expected = canonicalize_quads(quads)
    assert rdfc10_python(quads) == expected
    # Relabel and reorder: the canonical form must not change.
    names = sorted(
        {
            t.value
            for q in quads
            for t in (q.subject, q.object, q.graph_name)
            if isinstance(t, ox.BlankNode)
        }
    )
    shuffled = names[:]
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    mapping = {old: ox.BlankNode("r" + new) for old, new in zip(names, shuffled, strict=True)}

    def relabel(term: ox.Quad) -> object:
        return mapping[term.value] if isinstance(term, ox.BlankNode) else term  # type: ignore[attr-defined]

    renamed = [
        ox.Quad(relabel(q.subject), q.predicate, relabel(q.object), relabel(q.graph_name))  # type: ignore[arg-type]
        for q in reversed(quads)
    ]
    assert canonicalize_quads(renamed) == expected
