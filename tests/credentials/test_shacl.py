"""SHACL: the city's credentials against the official Gaia-X 25.11 shapes and the project's own.

The compiled engine is checked against pyshacl (the reference implementation) on the official
example and on mutated credentials.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pyshacl
import pytest
import rdflib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connector.credentials.jsonld import PinnedLoader, to_quads
from connector.credentials.self_description import build_credentials, load_config
from connector.credentials.shacl import (
    ShaclReport,
    Shapes,
    Triple,
    project_shapes,
    subject_triples,
    supporting_documents,
    validate_credential,
    validate_together,
)
from connector.errors import Invalid

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / ".." / "shared" / "vectors"
LOIRE = VECTORS / "gaia-x" / "loire-25.11"
DID = "did:web:127.0.0.1%3A8181"
GX = "https://w3id.org/gaia-x/development#"
SH = "http://www.w3.org/ns/shacl#"


def _official_text() -> bytes:
    path = LOIRE / "gx.shacl.ttl"
    if not path.is_file():
        pytest.skip(
            f"Gaia-X 25.11 shapes not found at {path} (../shared/vectors beside the checkout)"
        )
    return path.read_bytes()


@functools.lru_cache(maxsize=1)
def _official_cached() -> Shapes:
    return Shapes.parse(_official_text())


@pytest.fixture(scope="module")
def official() -> Shapes:
    return _official_cached()


@pytest.fixture(scope="module")
def loader() -> PinnedLoader:
    return PinnedLoader()


@functools.lru_cache(maxsize=1)
def _built() -> dict[str, dict[str, Any]]:
    config = load_config(ROOT / "self-descriptions" / "hagen.toml")
    issued = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    return build_credentials(
        config, issuer_did=DID, base_url="http://127.0.0.1:8181", issued=issued
    )


@pytest.fixture
def credentials() -> dict[str, dict[str, Any]]:
    return copy.deepcopy(_built())


def _others(credentials: dict[str, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    return [doc for other, doc in credentials.items() if other != key]


def _paths(report: ShaclReport) -> set[str | None]:
    return {v.path for v in report.violations}


# --- the city's credentials ---------------------------------------------------------------------


def test_every_credential_conforms_to_the_official_gaia_x_25_11_shapes(
    official: Shapes, loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    reports = validate_together(credentials, official, loader=loader)
    assert len(reports) == 12
    failing = {key: r.describe() for key, r in reports.items() if not r.conforms}
    assert failing == {}


def test_every_credential_conforms_to_the_project_shapes(
    loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    reports = validate_together(credentials, project_shapes(), loader=loader)
    failing = {key: r.describe() for key, r in reports.items() if not r.conforms}
    assert failing == {}


def test_the_shapes_actually_apply_to_the_credentials(
    official: Shapes, loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    """Conformance must not be vacuous: every subject class we emit has official shapes."""
    used: set[str] = set()
    for document in credentials.values():
        for _s, p, o in subject_triples(to_quads(document, loader=loader).quads):
            if p.value.endswith("#type") and isinstance(o, ox.NamedNode):
                used.add(o.value)
    gx_used = {c for c in used if c.startswith(GX)}
    assert {GX + "LegalPerson", GX + "DataProduct", GX + "ServiceOffering"} <= gx_used
    assert gx_used <= official.target_classes
    project_targets = project_shapes().target_classes
    assert used - {GX + "RegistrationNumber"} <= project_targets | official.target_classes


def test_a_credential_alone_reports_its_dangling_references(
    official: Shapes, loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    report = validate_credential(credentials["legal-person"], official, loader=loader)
    assert not report.conforms
    assert _paths(report) == {"gx:registrationNumber"}
    assert "not an instance of gx:RegistrationNumber" in report.violations[0].message


@pytest.mark.parametrize(
    ("key", "subject", "field", "path"),
    [
        ("legal-person", 0, "legalAddress", "gx:legalAddress"),
        ("service-offering", 0, "providedBy", "gx:providedBy"),
        ("dataset-pegelstaende-baeche", 0, "digitalServiceOfferingName",
         "gx:digitalServiceOfferingName"),
        ("dataset-industrie-co2", 0, "dataProductDescription", "gx:dataProductDescription"),
    ],
)  # fmt: skip
def test_a_missing_required_gaia_x_field_fails_naming_the_path(
    official: Shapes,
    loader: PinnedLoader,
    credentials: dict[str, dict[str, Any]],
    key: str,
    subject: int,
    field: str,
    path: str,
) -> None:
    document = credentials[key]
    subjects = document["credentialSubject"]
    target = subjects[subject] if isinstance(subjects, list) else subjects
    del target[field]
    supporting = _others(credentials, key)
    for shapes in (official, project_shapes()):
        report = validate_credential(document, shapes, loader=loader, supporting=supporting)
        assert not report.conforms
        assert path in _paths(report)
        missing = next(v for v in report.violations if v.path == path)
        assert missing.component == "minCount"
        assert missing.focus_node == target["id"]
        assert "expected at least 1 value(s), found 0" in str(missing)


@pytest.mark.parametrize(
    ("field", "path"),
    [
        ("dct:title", "dct:title"),
        ("dct:publisher", "dct:publisher"),
        ("dcatde:politicalGeocodingURI", "dcatde:politicalGeocodingURI"),
        ("dcat:theme", "dcat:theme"),
        ("dct:temporal", "dct:temporal"),
        ("odrl:hasPolicy", "odrl:hasPolicy"),
        ("kk:observes", "kk:observes"),
    ],
)
def test_a_missing_dcat_ap_de_field_fails_the_project_shapes(
    loader: PinnedLoader, credentials: dict[str, dict[str, Any]], field: str, path: str
) -> None:
    document = credentials["dataset-luftqualitaet-boele-eckesey"]
    del document["credentialSubject"][1][field]
    report = validate_credential(document, project_shapes(), loader=loader)
    assert path in _paths(report), report.describe()


def test_titles_need_german_and_english(
    loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    document = credentials["dataset-verkehrszaehlung-ki"]
    del document["credentialSubject"][1]["dct:title"]["en"]
    report = validate_credential(document, project_shapes(), loader=loader)
    messages = [v.message for v in report.violations if v.path == "dct:title"]
    assert messages == ["dct:title needs one German and one English value (language-tagged)"]


def test_a_licence_uri_with_a_trailing_slash_is_refused(
    loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    document = credentials["dataset-pegelstaende-baeche"]
    distribution = document["credentialSubject"][1]["dcat:distribution"][0]
    distribution["dct:license"] = "http://dcat-ap.de/def/licenses/dl-by-de/2.0/"
    supporting = _others(credentials, "dataset-pegelstaende-baeche")
    report = validate_credential(document, project_shapes(), loader=loader, supporting=supporting)
    assert [v.path for v in report.violations] == ["dct:license"]
    assert "GovData licence URI" in report.violations[0].message


def test_an_undefined_term_is_a_violation(
    loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    document = credentials["legal-person"]
    document["credentialSubject"]["colour"] = "green"
    report = validate_credential(
        document, project_shapes(), loader=loader, supporting=_others(credentials, "legal-person")
    )
    assert [(v.component, v.path) for v in report.violations] == [
        ("undefinedTerm", "$.credentialSubject.colour")
    ]


def test_an_unknown_gaia_x_property_violates_the_closed_shape(
    official: Shapes, loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    document = credentials["dataset-smart-meter-quartier"]
    document["credentialSubject"][0]["gx:colour"] = "green"
    report = validate_credential(
        document,
        official,
        loader=loader,
        supporting=_others(credentials, "dataset-smart-meter-quartier"),
    )
    assert [(v.component, v.path, v.value) for v in report.violations] == [
        ("closed", "gx:colour", '"green"')
    ]


def test_a_proof_and_the_envelope_are_not_validated_as_subjects(
    official: Shapes, loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    document = credentials["registration-number"]
    document["proof"] = {
        "type": "DataIntegrityProof",
        "cryptosuite": "eddsa-rdfc-2022",
        "created": "2026-01-01T00:00:00Z",
        "verificationMethod": DID + "#key-1",
        "proofPurpose": "assertionMethod",
        "proofValue": "z3FXQjecWufY46yg5abdVZsXqLhxhueuSoZgNSARiKBk9czhSePTFehP8c3PGfb6a22gkfUKKf",
    }
    assert validate_credential(document, official, loader=loader).conforms


# --- the engine ---------------------------------------------------------------------------------


def _triples(quads: Iterable[ox.Quad]) -> list[Triple]:
    return [(q.subject, q.predicate, q.object) for q in quads]  # type: ignore[misc]


def _nquads(quads: Iterable[ox.Quad]) -> str:
    serialized = ox.serialize(quads, format=ox.RdfFormat.N_QUADS)
    assert serialized is not None
    return serialized.decode()


def _shape_excerpt(shapes_ttl: bytes, classes: set[str]) -> str:
    """The node shapes targeting ``classes`` with everything below them, as N-Triples."""
    quads = list(ox.parse(shapes_ttl, format=ox.RdfFormat.TURTLE))
    out: dict[Any, list[ox.Quad]] = {}
    for q in quads:
        out.setdefault(q.subject, []).append(q)
    target = ox.NamedNode(SH + "targetClass")
    roots = [q.subject for q in quads if q.predicate == target and q.object.value in classes]
    keep: list[ox.Quad] = []
    seen: set[Any] = set()
    stack = list(roots)
    while stack:
        node = stack.pop()
        if node in seen:
            continue
        seen.add(node)
        for q in out.get(node, ()):
            keep.append(q)
            if isinstance(q.object, ox.BlankNode):
                stack.append(q.object)
    return _nquads(keep)


@functools.lru_cache(maxsize=4)
def _rdflib_shapes(shapes_nt: str) -> rdflib.Graph:
    return rdflib.Graph().parse(data=shapes_nt, format="nt")


def _pyshacl_results(data: list[Triple], shapes_nt: str) -> set[tuple[str, str, str]]:
    data_nt = _nquads([ox.Quad(s, p, o) for s, p, o in data])
    graph = rdflib.Graph().parse(data=data_nt, format="nt")
    _, report, _ = pyshacl.validate(graph, shacl_graph=_rdflib_shapes(shapes_nt), inference="none")
    sh = rdflib.Namespace(SH)
    found: set[tuple[str, str, str]] = set()
    for result in report.objects(None, sh.result):
        focus = report.value(result, sh.focusNode)
        path = report.value(result, sh.resultPath)
        component = str(report.value(result, sh.sourceConstraintComponent))[len(SH) :]
        name = component.removesuffix("ConstraintComponent")
        found.add((
            "_" if isinstance(focus, rdflib.BNode) else str(focus),
            "" if path is None else str(path),
            name[0].lower() + name[1:],
        ))  # fmt: skip
    return found


def _ours(data: list[Triple], shapes: Shapes) -> set[tuple[str, str, str]]:
    from connector.credentials.shacl import PREFIXES

    def expand(path: str | None) -> str:
        if path is None:
            return ""
        prefix, _, local = path.partition(":")
        return PREFIXES.get(prefix, prefix + ":") + local

    return {
        ("_" if v.focus_node.startswith("_:") else v.focus_node, expand(v.path), v.component)
        for v in shapes.validate(data).violations
    }


def test_the_official_example_gives_the_same_results_as_pyshacl() -> None:
    text = _official_text()
    example = json.loads(
        (LOIRE / "examples" / "valid" / "gx_data_resource_instance.json").read_text()
    )
    data = _triples(ox.parse(json.dumps(example), format=ox.RdfFormat.JSON_LD))
    classes = {o.value for _, p, o in data if p.value.endswith("#type")}
    expected = _pyshacl_results(data, _shape_excerpt(text, classes))
    assert expected == _ours(data, _official_cached())
    assert {component for _, _, component in expected} == {"class"}


@functools.lru_cache(maxsize=1)
def _union_and_shapes() -> tuple[list[Triple], str]:
    loader = PinnedLoader()
    data: list[Triple] = []
    keys = ("legal-person", "registration-number", "service-offering", "dataset-industrie-co2")
    for document in (_built()[key] for key in keys):
        data.extend(subject_triples(to_quads(document, loader=loader).quads))
    classes = {o.value for _, p, o in data if p.value.endswith("#type")}
    return list(dict.fromkeys(data)), _shape_excerpt(_official_text(), classes)


_STRING = ox.NamedNode("http://www.w3.org/2001/XMLSchema#string")
_INTEGER = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")


def _mutate(data: list[Triple], operation: str, index: int) -> list[Triple]:
    s, p, o = data[index % len(data)]
    rest = [t for t in data if t != (s, p, o)]
    if operation == "delete":
        return rest
    if operation == "duplicate":
        extra = ox.Literal("zweiter Wert") if isinstance(o, ox.Literal) else ox.BlankNode()
        return [*data, (s, p, extra)]
    if operation == "language":
        value = o.value if isinstance(o, ox.Literal | ox.NamedNode) else "x"
        return [*rest, (s, p, ox.Literal(value, language="de"))]
    if operation == "integer":
        return [*rest, (s, p, ox.Literal("42", datatype=_INTEGER))]
    if operation == "iri":
        return [*rest, (s, p, ox.NamedNode("https://example.org/not-a-literal"))]
    if operation == "unknown":
        return [*data, (s, ox.NamedNode(GX + "unknownProperty"), ox.Literal("x"))]
    return [*rest, (s, p, ox.Literal("unbekannt", datatype=_STRING))]


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    operation=st.sampled_from(
        ["delete", "duplicate", "language", "integer", "iri", "unknown", "string"]
    ),
    index=st.integers(min_value=0, max_value=10_000),
)
def test_mutated_credentials_give_the_same_results_as_pyshacl(operation: str, index: int) -> None:
    data, shapes_nt = _union_and_shapes()
    mutated = _mutate(data, operation, index)
    assert _ours(mutated, _official_cached()) == _pyshacl_results(mutated, shapes_nt)


def test_the_project_shapes_give_the_same_results_as_pyshacl(
    credentials: dict[str, dict[str, Any]], loader: PinnedLoader
) -> None:
    folder = ROOT / "connector" / "credentials" / "shapes"
    shapes_nt = _nquads(
        [
            q
            for f in sorted(folder.glob("*.ttl"))
            for q in ox.parse(f.read_bytes(), format=ox.RdfFormat.TURTLE)
        ]
    )
    document = credentials["dataset-energie-staedtische-gebaeude"]
    subject = document["credentialSubject"][1]
    subject["dct:title"] = {"de": "nur deutsch"}
    subject["dcat:distribution"][0]["dct:license"] = "http://dcat-ap.de/def/licenses/dl-by-de/2.0/"
    subject["kk:observes"][0]["kk:unit"] = "https://example.org/unit"
    subject["kk:observes"][1]["kk:colour"] = "green"
    data = subject_triples(to_quads(document, loader=loader).quads)
    ours = _ours(data, project_shapes())
    assert ours == _pyshacl_results(data, shapes_nt)
    assert {c for _, _, c in ours} >= {"minCount", "node", "pattern", "closed"}


def test_unsupported_shacl_features_are_refused_not_skipped() -> None:
    turtle = """
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix ex: <https://example.org/> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ;
            sh:property [ sh:path ex:p ; sh:qualifiedValueShape [ sh:class ex:D ] ;
                          sh:qualifiedMinCount 1 ] .
    """
    with pytest.raises(Invalid) as caught:
        Shapes.parse(turtle)
    assert caught.value.reason == "unsupported_shacl"
    assert "sh:qualifiedMinCount" in str(caught.value)


def test_core_components_beyond_the_gaia_x_shapes() -> None:
    shapes = Shapes.parse("""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix ex: <https://example.org/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:S a sh:NodeShape ; sh:targetClass ex:C ;
            sh:property [ sh:path ex:n ; sh:datatype xsd:integer ; sh:maxInclusive 10 ;
                          sh:minExclusive 0 ] ,
                        [ sh:path ex:t ; sh:maxLength 3 ; sh:hasValue "ab" ] ,
                        [ sh:path [ sh:inversePath ex:owns ] ; sh:maxCount 1 ] ,
                        [ sh:path ex:k ; sh:xone ( [ sh:datatype xsd:string ] [ sh:minLength 1 ] ) ] ;
            sh:not [ sh:path ex:forbidden ; sh:minCount 1 ] .
    """)
    ex = "https://example.org/"
    node, owner = ox.NamedNode(ex + "x"), ox.NamedNode(ex + "o")

    def run(*triples: tuple[str, str, Any]) -> set[tuple[str | None, str]]:
        """Validate ``triples`` about ex:x, an instance of a subclass of the target class."""
        data: list[Triple] = [
            (ox.NamedNode(ex + s), ox.NamedNode(ex + p), o) for s, p, o in triples
        ]
        rdf_type = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
        sub_class = ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#subClassOf")
        data.append((node, rdf_type, ox.NamedNode(ex + "Sub")))
        data.append((ox.NamedNode(ex + "Sub"), sub_class, ox.NamedNode(ex + "C")))
        return {(v.path, v.component) for v in shapes.validate(data).violations}

    integer = ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")
    good = run(("x", "n", ox.Literal("5", datatype=integer)), ("x", "t", ox.Literal("ab")))
    assert good == set()
    bad = run(
        ("x", "n", ox.Literal("11", datatype=integer)),
        ("x", "n", ox.Literal("zero", datatype=integer)),
        ("x", "t", ox.Literal("abcd")),
        ("o", "owns", node),
        ("o2", "owns", node),
        ("x", "k", ox.Literal("s")),
        ("x", "forbidden", owner),
    )
    assert bad == {
        ("https://example.org/n", "maxInclusive"),
        ("https://example.org/n", "datatype"),
        ("https://example.org/n", "minExclusive"),
        ("https://example.org/t", "maxLength"),
        ("https://example.org/t", "hasValue"),
        ("^https://example.org/owns", "maxCount"),
        ("https://example.org/k", "xone"),
        (None, "not"),
    }


def test_pre_indexed_supporting_data_gives_the_same_reports(
    official: Shapes, loader: PinnedLoader, credentials: dict[str, dict[str, Any]]
) -> None:
    key = "dataset-verkehrszaehlung-ki"
    document = credentials[key]
    del document["credentialSubject"][0]["digitalServiceOfferingIdentifier"]
    others = _others(credentials, key)
    indexed = supporting_documents(others, loader=loader)
    assert len(indexed) > 100
    plain = validate_credential(document, official, loader=loader, supporting=others)
    assert validate_credential(document, official, loader=loader, supporting=indexed) == plain
    assert [v.path for v in plain.violations] == ["gx:digitalServiceOfferingIdentifier"]
