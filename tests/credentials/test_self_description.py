"""The city's self-description config and the credentials built from it."""

from __future__ import annotations

import copy
import datetime as dt
import functools
import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connector.credentials.jsonld import PinnedLoader, project_contexts, to_quads
from connector.credentials.self_description import (
    CONTEXTS,
    GX_CONTEXT,
    SelfDescriptionConfig,
    build_credentials,
    load_config,
    parse_config,
)
from connector.errors import Invalid

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "self-descriptions" / "hagen.toml"
LOIRE = ROOT / ".." / "shared" / "vectors" / "gaia-x" / "loire-25.11"
DID = "did:web:127.0.0.1%3A8181"
BASE = "http://127.0.0.1:8181"
ISSUED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

DATASETS = [
    "luftqualitaet-boele-eckesey",
    "verkehrszaehlung-ki",
    "verkehr-co2-strassenabschnitte",
    "pv-ertrag-staedtische-gebaeude",
    "pegelstaende-baeche",
    "bodenfeuchte-strassenbaeume",
    "energie-staedtische-gebaeude",
    "industrie-co2",
    "smart-meter-quartier",
]


@functools.lru_cache(maxsize=1)
def _config() -> SelfDescriptionConfig:
    return load_config(CONFIG)


def _build(issued: dt.datetime = ISSUED) -> dict[str, dict[str, Any]]:
    return build_credentials(_config(), issuer_did=DID, base_url=BASE + "/", issued=issued)


def _dataset(credentials: dict[str, dict[str, Any]], slug: str) -> dict[str, Any]:
    subject: dict[str, Any] = credentials[f"dataset-{slug}"]["credentialSubject"][1]
    return subject


def _raw_config() -> dict[str, Any]:
    return tomllib.loads(CONFIG.read_text(encoding="utf-8"))


def _toml(value: Any, prefix: str = "") -> str:
    """A small TOML writer for the error tests (inline tables and arrays of tables)."""

    def inline(item: Any) -> str:
        if isinstance(item, dict):
            return "{" + ", ".join(f"{json.dumps(k)} = {inline(v)}" for k, v in item.items()) + "}"
        if isinstance(item, list):
            return "[" + ", ".join(inline(v) for v in item) + "]"
        if isinstance(item, bool):
            return "true" if item else "false"
        if isinstance(item, dt.date | int | float):
            return item.isoformat() if isinstance(item, dt.date) else str(item)
        return json.dumps(item, ensure_ascii=False)

    return "\n".join(f"{json.dumps(k)} = {inline(v)}" for k, v in value.items())


# --- the config ---------------------------------------------------------------------------------


def test_the_hagen_config_lists_the_nine_demo_datasets() -> None:
    config = _config()
    assert [d.slug for d in config.datasets] == DATASETS
    assert config.participant.name == "Stadt Hagen"
    assert config.participant.regional_key == "059140000000"
    assert config.participant.legal_address.street_address == "Rathausstraße 11"
    assert config.participant.legal_address.postal_code == "58095"
    assert config.participant.legal_address.country_subdivision == "DE-NW"
    assert set(config.policies) == {
        "open-dl-by-de-2.0",
        "open-cc-by-4.0",
        "partner-energiemanagement",
        "consortium-co2-bilanz",
        "smartmeter-k-anonymous",
    }


def test_the_referenced_terms_documents_have_the_configured_hashes() -> None:
    for document in (_config().documents.service_terms, _config().documents.data_terms):
        assert document.file is not None
        content = (CONFIG.parent / document.file).read_bytes()
        assert hashlib.sha256(content).hexdigest() == document.sha256


@pytest.mark.parametrize(
    ("edit", "field"),
    [
        (lambda c: c["datasets"][0]["distributions"][0].update(policy="nirgends"),
         "datasets[0].distributions[0].policy: unknown policy 'nirgends'"),
        (lambda c: c["datasets"][2]["distributions"][1].update(
            license="http://dcat-ap.de/def/licenses/cc-by/4.0/"),
         "datasets[2].distributions[1].license"),
        (lambda c: c["datasets"][4]["title"].pop("en"), "datasets[4].title.en: Field required"),
        (lambda c: c["participant"].update(colour="green"),
         "participant.colour: Extra inputs are not permitted"),
        (lambda c: c["datasets"][1].update(themes=["WEATHER"]), "datasets[1].themes[0]"),
        (lambda c: c["datasets"][3].update(slug=c["datasets"][0]["slug"]),
         "datasets[3].slug: duplicate dataset"),
        (lambda c: c["datasets"][0]["variables"][0].update(min=700),
         "datasets[0].variables[0]: Value error, min is greater than max"),
        (lambda c: c["documents"]["service_terms"].update(sha256="abc"),
         "documents.service_terms.sha256"),
        (lambda c: c["participant"]["legal_address"].update(postal_code="5809"),
         "participant.legal_address.postal_code"),
    ],
)  # fmt: skip
def test_config_errors_name_the_field(edit: Any, field: str) -> None:
    raw = _raw_config()
    edit(raw)
    with pytest.raises(Invalid) as caught:
        parse_config(_toml(raw), source="hagen.toml")
    assert caught.value.reason == "bad_config"
    assert str(caught.value).startswith("hagen.toml: ")
    assert field in str(caught.value)


def test_a_config_that_is_not_toml_is_refused() -> None:
    with pytest.raises(Invalid) as caught:
        parse_config("participant = {", source="x.toml")
    assert caught.value.reason == "bad_config"
    assert "not valid TOML" in str(caught.value)


def test_a_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(Invalid, match="cannot read"):
        load_config(tmp_path / "nirgends.toml")


# --- the credentials ----------------------------------------------------------------------------


def test_the_credentials_and_their_envelopes() -> None:
    credentials = _build()
    assert list(credentials) == [
        "legal-person",
        "registration-number",
        "service-offering",
        *(f"dataset-{slug}" for slug in DATASETS),
    ]
    for key, credential in credentials.items():
        assert credential["@context"] == list(CONTEXTS)
        assert credential["id"] == f"{BASE}/self-descriptions/{key}"
        assert credential["type"][0] == "VerifiableCredential"
        assert credential["type"][1].startswith("gx:")
        assert credential["issuer"] == DID
        assert credential["validFrom"] == "2026-01-01T00:00:00Z"
        assert credential["validUntil"] == "2027-01-01T00:00:00Z"
        assert "proof" not in credential
    legal = credentials["legal-person"]["credentialSubject"]
    assert legal["id"] == DID
    assert legal["type"] == "gx:LegalPerson"
    assert legal["legalAddress"]["vcard:street-address"] == "Rathausstraße 11"
    registration = credentials["registration-number"]["credentialSubject"]
    assert registration["local"] == "059140000000"
    assert legal["registrationNumber"] == {"id": registration["id"]}


def test_the_service_offering() -> None:
    offering = _build()["service-offering"]["credentialSubject"]
    assert offering["providedBy"] == {"id": DID}
    terms = offering["serviceOfferingTermsAndConditions"][0]
    assert terms["url"] == f"{BASE}/self-descriptions/terms/nutzungsbedingungen-1.0.md"
    assert terms["hash"] == _config().documents.service_terms.sha256
    assert offering["endpoint"]["endpointURL"] == f"{BASE}/dsp"
    assert offering["dataAccountExport"]["requestType"] == "API"
    policies = [p["policyDocument"]["@value"] for p in offering["servicePolicy"]]
    assert sorted(policies) == sorted(_config().policies.values())


@pytest.mark.parametrize("slug", DATASETS)
def test_each_dataset_is_a_data_product_with_a_dcat_ap_de_description(slug: str) -> None:
    credential = _build()[f"dataset-{slug}"]
    product, dataset = credential["credentialSubject"]
    assert product["type"] == "gx:DataProduct"
    assert dataset["type"] == "dcat:Dataset"
    assert product["dataProductDescription"]["dcat:Dataset"] == dataset["id"]
    assert product["digitalServiceOfferingProvider"] == {"id": DID}
    assert set(dataset["dct:title"]) == {"de", "en"}
    assert set(dataset["dct:description"]) == {"de", "en"}
    assert dataset["dct:publisher"]["foaf:name"] == "Stadt Hagen"
    assert dataset["dcatde:politicalGeocodingURI"] == (
        "http://dcat-ap.de/def/politicalGeocoding/regionalKey/059140000000"
    )
    assert dataset["dcat:theme"]
    for theme in dataset["dcat:theme"]:
        assert theme.removeprefix(
            "http://publications.europa.eu/resource/authority/data-theme/"
        ) in {"ENVI", "ENER", "TRAN"}
    assert dataset["dct:temporal"]["dcat:startDate"] == "2025-01-01"
    assert dataset["dct:spatial"]["dcat:bbox"].startswith("POLYGON((")
    for distribution in dataset["dcat:distribution"]:
        assert distribution["dct:license"].startswith("http://dcat-ap.de/def/licenses/")
        assert not distribution["dct:license"].endswith("/")
        assert distribution["dcat:accessURL"].startswith(BASE)
        assert distribution["odrl:hasPolicy"] in dataset["odrl:hasPolicy"]
    assert dataset["kk:observes"]


def test_the_policies_and_licences_of_the_datasets() -> None:
    credentials = _build()
    policy = _config().policies

    def policies(slug: str) -> list[str]:
        found: list[str] = _dataset(credentials, slug)["odrl:hasPolicy"]
        return found

    assert policies("luftqualitaet-boele-eckesey") == [policy["open-dl-by-de-2.0"]]
    assert policies("verkehr-co2-strassenabschnitte") == [policy["open-cc-by-4.0"]]
    assert policies("energie-staedtische-gebaeude") == [
        policy["open-dl-by-de-2.0"],
        policy["partner-energiemanagement"],
    ]
    assert policies("industrie-co2") == [policy["consortium-co2-bilanz"]]
    assert policies("smart-meter-quartier") == [policy["smartmeter-k-anonymous"]]
    air = _dataset(credentials, "luftqualitaet-boele-eckesey")
    assert air["dct:license"] == "http://dcat-ap.de/def/licenses/dl-by-de/2.0"
    assert {v["kk:variable"] for v in air["kk:observes"]} == {
        "co2", "no2", "pm10", "temperature", "relative_humidity",
    }  # fmt: skip
    co2 = _dataset(credentials, "verkehr-co2-strassenabschnitte")
    assert co2["dct:license"] == "http://dcat-ap.de/def/licenses/cc-by/4.0"
    assert co2["kk:methodVersion"] == "1.0.0"
    energy = _dataset(credentials, "energie-staedtische-gebaeude")
    assert "dct:license" not in energy  # two licences: stated per distribution only
    water = _dataset(credentials, "pegelstaende-baeche")
    assert "keine amtliche hochwasserwarnung" in water["kk:notice"]["de"].lower()
    assert "keine amtliche hochwasserwarnung" in water["dct:description"]["de"].lower()


def test_every_term_is_defined_by_the_contexts() -> None:
    loader = PinnedLoader()
    for key, credential in _build().items():
        assert to_quads(credential, loader=loader).undefined == [], key


def test_the_rdf_is_the_same_under_the_official_gaia_x_context() -> None:
    """Our pinned gx context expands every term exactly as the Gaia-X 25.11 generated context."""
    official = LOIRE / "gx.context.jsonld"
    if not official.is_file():
        pytest.skip(f"Gaia-X 25.11 context not found at {official}")
    ours = PinnedLoader()
    theirs = ours.with_documents({GX_CONTEXT: official})

    def canonical(document: dict[str, Any], loader: PinnedLoader) -> list[str]:
        # pyld: pyoxigraph refuses the official context's property-scoped redefinitions of the
        # protected term "description" (JSON-LD 1.1 allows them).
        quads = to_quads(document, loader=loader, engine="pyld").quads
        dataset = ox.Dataset(quads)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        return sorted(str(q) for q in dataset)

    for key, credential in _build().items():
        mine = canonical(credential, ours)
        assert len(mine) > 10
        assert mine == canonical(credential, theirs), key


def test_the_pinned_contexts() -> None:
    pinned = project_contexts()
    for url in CONTEXTS[1:]:
        assert url in pinned
        assert pinned[url].is_file()
        document = json.loads(pinned[url].read_text(encoding="utf-8"))
        assert "@vocab" not in document["@context"]
    assert pinned[GX_CONTEXT].parent.name == "gaia-x"


def test_building_is_deterministic() -> None:
    first, second = _build(), _build()
    assert json.dumps(first, sort_keys=False) == json.dumps(second, sort_keys=False)
    assert first is not second


def test_building_needs_an_aware_instant() -> None:
    with pytest.raises(Invalid) as caught:
        build_credentials(_config(), issuer_did=DID, base_url=BASE, issued=dt.datetime(2026, 1, 1))
    assert caught.value.reason == "naive_datetime"


@settings(max_examples=20, deadline=None)
@given(
    issued=st.datetimes(
        min_value=dt.datetime(2000, 1, 1),
        max_value=dt.datetime(2090, 1, 1),
        timezones=st.just(dt.UTC),
    )
)
def test_only_the_dates_depend_on_the_issuing_instant(issued: dt.datetime) -> None:
    built = _build(issued)
    reference = copy.deepcopy(_build())
    for key, credential in built.items():
        start = dt.datetime.fromisoformat(credential["validFrom"])
        end = dt.datetime.fromisoformat(credential["validUntil"])
        assert start == issued.replace(microsecond=0)
        assert end - start == dt.timedelta(days=365)
        stripped = {k: v for k, v in credential.items() if k not in ("validFrom", "validUntil")}
        expected = {k: v for k, v in reference[key].items() if k not in ("validFrom", "validUntil")}
        assert stripped == expected
