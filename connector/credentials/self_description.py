"""The city's self-descriptions: one TOML config in, unsigned VCDM 2.0 credentials out.

:func:`load_config` reads ``self-descriptions/hagen.toml`` (or any participant's file) into a
typed :class:`SelfDescriptionConfig`; every error names the field (``datasets[2].policy: …``).
:func:`build_credentials` is pure and deterministic for a fixed ``issued`` instant. It returns

* ``legal-person`` — the participant as ``gx:LegalPerson`` (subject id = the issuer's DID),
* ``registration-number`` — its ``gx:LocalRegistrationNumber`` (for a German municipality: the
  Amtlicher Regionalschlüssel, ARS),
* ``service-offering`` — the connector as ``gx:ServiceOffering``,
* ``dataset-<slug>`` — each dataset as ``gx:DataProduct`` (Gaia-X 25.11) together with its
  DCAT-AP.de description (a second subject, ``dcat:Dataset``, which the closed 25.11 shape of
  ``gx:DataProduct`` would not admit on the product node itself; ``gx:dataProductDescription``
  names it by IRI).

Signing is another module's work. Terms come from the contexts pinned in
``connector/credentials/contexts/`` (see :data:`CONTEXTS`).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from connector.clock import utc_isoformat
from connector.errors import Invalid

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
GX_CONTEXT = "https://w3id.org/gaia-x/development#"
DCAT_AP_DE_CONTEXT = "https://w3id.org/klimakommune/contexts/dcat-ap-de/v1"
KLIMAKOMMUNE_CONTEXT = "https://w3id.org/klimakommune/contexts/klimakommune/v1"
CONTEXTS = (CREDENTIALS_V2, GX_CONTEXT, DCAT_AP_DE_CONTEXT, KLIMAKOMMUNE_CONTEXT)

DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
MEDIA_TYPE = "https://www.iana.org/assignments/media-types/"
QUDT_UNIT = "http://qudt.org/vocab/unit/"
GEOCODING = "http://dcat-ap.de/def/politicalGeocoding/regionalKey/"
GEOCODING_LEVEL = "http://dcat-ap.de/def/politicalGeocodingLevel/municipality"

Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", max_length=80)]
Duration = Annotated[
    str, Field(pattern=r"^P(?!$)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?$")
]
PolicyName = Annotated[str, Field(pattern=r"^[a-z0-9]+([.-][a-z0-9]+)*$", max_length=80)]
"""Short name of an ODRL policy in the config, e.g. ``open-dl-by-de-2.0``."""
HttpUrl = Annotated[str, Field(pattern=r"^https?://[^\s]+$")]
UrlOrPath = Annotated[str, Field(pattern=r"^(https?://[^\s]+|/[^\s]*)$")]
Text = Annotated[str, Field(min_length=1)]
Theme = Literal[
    "AGRI", "ECON", "EDUC", "ENER", "ENVI", "GOVE", "HEAL", "INTR", "JUST", "REGI", "SOCI",
    "TECH", "TRAN", "OP_DATPRO",
]  # fmt: skip
GovDataLicence = Annotated[
    str, Field(pattern=r"^http://dcat-ap\.de/def/licenses/[a-z0-9-]+(/[0-9.]+)?$")
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, regex_engine="python-re")


class Bilingual(_Model):
    """A text in German (primary) and English."""

    de: Text
    en: Text


class BilingualList(_Model):
    de: list[Text] = []
    en: list[Text] = []


class Address(_Model):
    street_address: Text
    postal_code: Annotated[str, Field(pattern=r"^[0-9]{5}$")]
    locality: Text
    country_code: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    country_name: Text
    country_subdivision: Annotated[str, Field(pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")]
    """ISO 3166-2, e.g. ``DE-NW``; Gaia-X 25.11 addresses carry NUTS regions instead."""
    nuts_region: Annotated[str, Field(pattern=r"^[A-Z]{2}[A-Z0-9]{1,2}$")]
    """NUTS code for ``vcard:region`` in ``gx:Address`` (Hagen: ``DEA5``, Arnsberg)."""


class RegistrationNumber(_Model):
    local: Text
    """The value of ``gx:local`` (for a municipality: the ARS)."""
    scheme: Text
    """What the number is, for people (e.g. ``Amtlicher Regionalschlüssel (ARS)``)."""


class Contact(_Model):
    name: Text
    url: HttpUrl
    email: Annotated[str, Field(pattern=r"^[^@\s]+@[^@\s]+$")] | None = None


class Participant(_Model):
    name: Text
    description: Text
    homepage: HttpUrl
    publisher_iri: HttpUrl
    """IRI of the participant as DCAT publisher (``foaf:Organization``)."""
    regional_key: Annotated[str, Field(pattern=r"^[0-9]{12}$")]
    """Amtlicher Regionalschlüssel, used for ``dcatde:politicalGeocodingURI``."""
    registration_number: RegistrationNumber
    legal_address: Address
    contact: Contact
    bbox: tuple[float, float, float, float]
    """Default spatial coverage: min lon, min lat, max lon, max lat (WGS 84)."""


class Document(_Model):
    """A document referenced with its hash (Gaia-X terms and conditions)."""

    url: UrlOrPath
    """Absolute, or a path resolved against the connector's public URL."""
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    file: str | None = None
    """Where the document lives in the checkout (relative to the config), for hash checks."""


class Documents(_Model):
    service_terms: Document
    data_terms: Document


class Licence(_Model):
    text_url: HttpUrl | None = None
    """The human-readable licence text (a ``gx:LegalDocument``)."""


class DataAccountExport(_Model):
    format_type: Annotated[str, Field(pattern=r"^[a-z]+/[A-Za-z0-9.+-]+$")]
    request_type: Literal[
        "API", "email", "webform", "unregisteredLetter", "registeredLetter", "supportCenter"
    ]
    access_type: Literal["digital", "physical"]


class Connector(_Model):
    name: Text
    description: Text
    keywords: list[Text] = []
    dsp_path: Annotated[str, Field(pattern=r"^/[^\s]*$")] = "/dsp"
    protocol_title: Text
    protocol_reference: HttpUrl
    protocol_publisher: Text
    data_protection_regime: Literal["GDPR2016", "LGPD2019", "PDPA2012", "CCPA2018", "VCDPA2021"]
    data_account_export: DataAccountExport


class Variable(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    label: Bilingual
    unit: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]+$")]
    """A QUDT unit (local name under ``http://qudt.org/vocab/unit/``), e.g. ``MicroGM-PER-M3``."""
    symbol: Text
    sampling_interval: Duration | None = None
    min: Decimal | None = None
    max: Decimal | None = None

    @model_validator(mode="after")
    def _range(self) -> Variable:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Distribution(_Model):
    slug: Slug
    title: Bilingual
    format: Annotated[str, Field(pattern=r"^[A-Z0-9_]+$")]
    """EU file type code, e.g. ``CSV``, ``JSON``, ``GEOJSON``."""
    media_type: Annotated[str, Field(pattern=r"^[a-z]+/[A-Za-z0-9.+-]+$")]
    license: GovDataLicence
    policy: PolicyName
    """Short name of the ODRL policy (a key of ``[policies]``)."""
    attribution: Text | None = None
    temporal_resolution: Duration | None = None
    access_url: HttpUrl | None = None
    """Default: the connector's DSP catalogue entry of the dataset."""


class Period(_Model):
    start: dt.date
    end: dt.date | None = None

    @model_validator(mode="after")
    def _order(self) -> Period:
        if self.end is not None and self.end < self.start:
            raise ValueError("end is before start")
        return self


class Dataset(_Model):
    slug: Slug
    title: Bilingual
    description: Bilingual
    keywords: BilingualList = BilingualList()
    themes: Annotated[list[Theme], Field(min_length=1)]
    launch_date: dt.date
    temporal: Period
    bbox: tuple[float, float, float, float] | None = None
    accrual_periodicity: Annotated[str, Field(pattern=r"^[A-Z0-9_]+$")]
    temporal_resolution: list[Duration] = []
    notice: Bilingual | None = None
    method_version: Text | None = None
    minimum_aggregate_size: Annotated[int, Field(ge=2)] | None = None
    variables: Annotated[list[Variable], Field(min_length=1)]
    distributions: Annotated[list[Distribution], Field(min_length=1)]


class SelfDescriptionConfig(_Model):
    """Everything the credentials of one participant say, as one typed value."""

    validity_days: Annotated[int, Field(ge=1, le=3660)] = 365
    namespace: Annotated[str, Field(pattern=r"^https?://[^\s]+/$")]
    """Persistent IRI base of the participant's data products, datasets and policies."""
    participant: Participant
    documents: Documents
    licenses: dict[GovDataLicence, Licence] = {}
    policies: dict[PolicyName, HttpUrl]
    """Short policy name → policy IRI."""
    connector: Connector
    datasets: Annotated[list[Dataset], Field(min_length=1)]


# --- loading ------------------------------------------------------------------------------------


def load_config(path: Path | str) -> SelfDescriptionConfig:
    """Read and validate a self-description config (TOML)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise Invalid(f"{source}: cannot read: {exc.strerror}", reason="bad_config") from exc
    return parse_config(text, source=str(source))


def parse_config(text: str, *, source: str = "<config>") -> SelfDescriptionConfig:
    """Validate a config given as TOML text; errors name the file and the field."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise Invalid(f"{source}: not valid TOML: {exc}", reason="bad_config") from exc
    try:
        config = SelfDescriptionConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_location(error['loc'])}: {error['msg']}" for error in exc.errors())
        raise Invalid(f"{source}: {problems}", reason="bad_config") from exc
    _check_references(config, source)
    return config


def _location(loc: Sequence[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not part.startswith(("function-", "tuple[", "list[")):
            out += f".{part}" if out else part
    return out or "(root)"


def _check_references(config: SelfDescriptionConfig, source: str) -> None:
    problems: list[str] = []
    seen: set[str] = set()
    for i, dataset in enumerate(config.datasets):
        where = f"datasets[{i}]"
        if dataset.slug in seen:
            problems.append(f"{where}.slug: duplicate dataset {dataset.slug!r}")
        seen.add(dataset.slug)
        names = [d.slug for d in dataset.distributions]
        for j, dist in enumerate(dataset.distributions):
            if names.count(dist.slug) > 1:
                problems.append(f"{where}.distributions[{j}].slug: duplicate {dist.slug!r}")
            if dist.policy not in config.policies:
                problems.append(
                    f"{where}.distributions[{j}].policy: unknown policy {dist.policy!r} "
                    f"(known: {', '.join(sorted(config.policies))})"
                )
        variables = [v.id for v in dataset.variables]
        for j, variable in enumerate(dataset.variables):
            if variables.count(variable.id) > 1:
                problems.append(f"{where}.variables[{j}].id: duplicate {variable.id!r}")
    if problems:
        raise Invalid(f"{source}: {'; '.join(dict.fromkeys(problems))}", reason="bad_config")


# --- building -----------------------------------------------------------------------------------


def build_credentials(
    config: SelfDescriptionConfig, *, issuer_did: str, base_url: str, issued: dt.datetime
) -> dict[str, dict[str, Any]]:
    """The participant's unsigned credentials, keyed by short id (see the module docstring)."""
    if issued.tzinfo is None:
        raise Invalid("issued must be timezone-aware", reason="naive_datetime")
    builder = _Builder(config, issuer_did, base_url.rstrip("/"), issued)
    credentials = {
        "legal-person": builder.legal_person(),
        "registration-number": builder.registration_number(),
        "service-offering": builder.service_offering(),
    }
    for dataset in config.datasets:
        credentials[f"dataset-{dataset.slug}"] = builder.data_product(dataset)
    return credentials


def _any_uri(value: str) -> dict[str, str]:
    return {"@value": value, "@type": "xsd:anyURI"}


def _bilingual_values(text: Bilingual) -> list[dict[str, str]]:
    return [{"@value": text.de, "@language": "de"}, {"@value": text.en, "@language": "en"}]


def _language_map(text: Bilingual) -> dict[str, str]:
    return {"de": text.de, "en": text.en}


def _decimal(value: Decimal) -> str:
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _polygon(bbox: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = (_decimal(Decimal(str(v))) for v in bbox)
    return f"POLYGON(({x0} {y0}, {x1} {y0}, {x1} {y1}, {x0} {y1}, {x0} {y0}))"


class _Builder:
    def __init__(
        self, config: SelfDescriptionConfig, issuer: str, base_url: str, issued: dt.datetime
    ) -> None:
        self.config = config
        self.issuer = issuer
        self.base = base_url
        self.valid_from = utc_isoformat(issued)
        self.valid_until = utc_isoformat(issued + dt.timedelta(days=config.validity_days))

    # shared pieces

    def url(self, url_or_path: str) -> str:
        return self.base + url_or_path if url_or_path.startswith("/") else url_or_path

    def credential_id(self, key: str) -> str:
        return f"{self.base}/self-descriptions/{key}"

    def envelope(self, key: str, gx_type: str, name: Bilingual, subject: Any) -> dict[str, Any]:
        return {
            "@context": list(CONTEXTS),
            "id": self.credential_id(key),
            "type": ["VerifiableCredential", gx_type],
            "name": _bilingual_values(name),
            "issuer": self.issuer,
            "validFrom": self.valid_from,
            "validUntil": self.valid_until,
            "credentialSubject": subject,
        }

    def terms(self, gx_type: str, document: Document) -> dict[str, Any]:
        return {"type": gx_type, "url": self.url(document.url), "hash": document.sha256}

    def contact(self) -> dict[str, Any]:
        contact = self.config.participant.contact
        info: dict[str, Any] = {"type": "gx:ContactInformation", "url": contact.url}
        if contact.email:
            info["email"] = contact.email
        return info

    def gx_address(self) -> dict[str, Any]:
        address = self.config.participant.legal_address
        return {
            "type": "gx:Address",
            "countryCode": address.country_code,
            "countryName": address.country_name,
            "vcard:street-address": address.street_address,
            "vcard:postal-code": address.postal_code,
            "vcard:locality": address.locality,
            "vcard:region": address.nuts_region,
        }

    def policy_iri(self, name: str) -> str:
        return self.config.policies[name]

    # the credentials

    def legal_person(self) -> dict[str, Any]:
        participant = self.config.participant
        subject = {
            "id": self.issuer,
            "type": "gx:LegalPerson",
            "name": participant.name,
            "description": participant.description,
            "registrationNumber": {"id": self.credential_id("registration-number") + "#subject"},
            "legalAddress": self.gx_address(),
            "headquartersAddress": self.gx_address(),
        }
        name = Bilingual(
            de=f"{participant.name}: Teilnehmerbeschreibung",
            en=f"{participant.name}: participant description",
        )
        return self.envelope("legal-person", "gx:LegalPerson", name, subject)

    def registration_number(self) -> dict[str, Any]:
        participant = self.config.participant
        number = participant.registration_number
        subject = {
            "id": self.credential_id("registration-number") + "#subject",
            "type": ["gx:RegistrationNumber", "gx:LocalRegistrationNumber"],
            "local": number.local,
        }
        name = Bilingual(
            de=f"{participant.name}: Registernummer — {number.scheme} {number.local}",
            en=f"{participant.name}: registration number — {number.scheme} {number.local}",
        )
        return self.envelope("registration-number", "gx:LocalRegistrationNumber", name, subject)

    def service_offering(self) -> dict[str, Any]:
        connector = self.config.connector
        export = connector.data_account_export
        used = dict.fromkeys(
            d.policy for dataset in self.config.datasets for d in dataset.distributions
        )
        subject = {
            "id": self.credential_id("service-offering") + "#subject",
            "type": "gx:ServiceOffering",
            "name": connector.name,
            "description": connector.description,
            "providedBy": {"id": self.issuer},
            "serviceOfferingTermsAndConditions": [
                self.terms("gx:TermsAndConditions", self.config.documents.service_terms)
            ],
            "endpoint": {
                "type": "gx:Endpoint",
                "endpointURL": self.base + connector.dsp_path,
                "standardConformity": [
                    {
                        "type": "gx:StandardConformity",
                        "title": connector.protocol_title,
                        "standardReference": connector.protocol_reference,
                        "publisher": connector.protocol_publisher,
                    }
                ],
            },
            "dataAccountExport": {
                "type": "gx:DataAccountExport",
                "formatType": export.format_type,
                "requestType": export.request_type,
                "accessType": export.access_type,
            },
            "servicePolicy": [
                {
                    "type": "gx:AccessUsagePolicy",
                    "policyLanguage": "ODRL",
                    "policyDocument": _any_uri(self.policy_iri(name)),
                }
                for name in used
            ],
            "providerContactInformation": self.contact(),
            "keyword": list(connector.keywords),
            "dataProtectionRegime": connector.data_protection_regime,
        }
        name = Bilingual(de=connector.name, en=f"{self.config.participant.name}: connector")
        return self.envelope("service-offering", "gx:ServiceOffering", name, subject)

    def data_product(self, dataset: Dataset) -> dict[str, Any]:
        key = f"dataset-{dataset.slug}"
        dataset_iri = f"{self.config.namespace}datasets/{dataset.slug}"
        policies = list(dict.fromkeys(d.policy for d in dataset.distributions))
        licences = list(dict.fromkeys(d.license for d in dataset.distributions))
        documents = self.config.documents
        legal_documents: list[dict[str, Any]] = []
        for licence in licences:
            text_url = self.config.licenses.get(licence, Licence()).text_url
            if text_url:
                legal_documents.append({"type": "gx:LegalDocument", "url": text_url})
        for policy in policies:
            legal_documents.append(
                {
                    "type": "gx:LegalDocument",
                    "url": self.policy_iri(policy),
                    "mimeTypes": "application/ld+json",
                }
            )
        product = {
            "id": f"{self.config.namespace}data-products/{dataset.slug}",
            "type": "gx:DataProduct",
            "name": dataset.title.de,
            "description": dataset.description.de,
            "digitalServiceOfferingName": dataset.title.de,
            "digitalServiceOfferingShortDescription": dataset.description.de,
            "digitalServiceOfferingIdentifier": dataset_iri,
            "digitalServiceOfferingLaunchDate": dataset.launch_date.isoformat(),
            "digitalServiceOfferingProvider": {"id": self.issuer},
            "digitalServiceOfferingTermsAndConditions": self.terms(
                "gx:ServiceTermsAndConditions", documents.service_terms
            ),
            "digitalServiceUsageTermsAndConditions": self.terms(
                "gx:UsageTermsAndConditions", documents.data_terms
            ),
            "digitalServiceUsageDataPolicy": self.terms(
                "gx:TermsAndConditions", documents.data_terms
            ),
            "digitalServiceLegalDocuments": legal_documents,
            "digitalServiceOfferingContactInformation": self.contact(),
            "keyword": list(dataset.keywords.de),
            "dataProductDescription": {
                "type": "gx:DataProductDescription",
                "dcat:Dataset": dataset_iri,
                "dataProductConfigurationParameters": [
                    {
                        "type": "gx:DataProductConfigurationParameter",
                        "parameterName": "distribution",
                        "parameterDescription": "Auslieferung (Distribution) des Datensatzes",
                        "parameterAdmissibleValues": [d.slug for d in dataset.distributions],
                    },
                    {
                        "type": "gx:DataProductConfigurationParameter",
                        "parameterName": "mediaType",
                        "parameterDescription": "Datenformat der Auslieferung",
                        "parameterAdmissibleValues": list(
                            dict.fromkeys(d.media_type for d in dataset.distributions)
                        ),
                    },
                ],
                "dataLicense": {"type": "gx:DataLicense", "genericLicense": licences},
            },
        }
        name = Bilingual(de=dataset.title.de, en=dataset.title.en)
        subjects = [product, self.dcat_dataset(dataset, dataset_iri, policies, licences)]
        return self.envelope(key, "gx:DataProduct", name, subjects)

    def dcat_dataset(
        self, dataset: Dataset, iri: str, policies: list[str], licences: list[str]
    ) -> dict[str, Any]:
        participant = self.config.participant
        address = participant.legal_address
        description: dict[str, Any] = {
            "id": iri,
            "type": "dcat:Dataset",
            "dct:identifier": iri,
            "dct:title": _language_map(dataset.title),
            "dct:description": _language_map(dataset.description),
            "dcat:keyword": {"de": list(dataset.keywords.de), "en": list(dataset.keywords.en)},
            "dct:publisher": {
                "id": participant.publisher_iri,
                "type": "foaf:Organization",
                "foaf:name": participant.name,
                "foaf:homepage": participant.homepage,
            },
            "dcat:contactPoint": {
                "type": "vcard:Organization",
                "vcard:fn": participant.contact.name,
                "vcard:hasURL": participant.contact.url,
                "vcard:hasAddress": {
                    "type": "vcard:Address",
                    "vcard:street-address": address.street_address,
                    "vcard:postal-code": address.postal_code,
                    "vcard:locality": address.locality,
                    "vcard:region": address.country_subdivision,
                    "vcard:country-name": address.country_name,
                },
            },
            "dcat:theme": [DATA_THEME + theme for theme in dataset.themes],
            "dct:issued": dataset.launch_date.isoformat(),
            "dct:temporal": self.period(dataset.temporal),
            "dct:spatial": {
                "type": "dct:Location",
                "dcat:bbox": _polygon(dataset.bbox or participant.bbox),
            },
            "dcatde:politicalGeocodingURI": GEOCODING + participant.regional_key,
            "dcatde:politicalGeocodingLevelURI": GEOCODING_LEVEL,
            "dct:accrualPeriodicity": FREQUENCY + dataset.accrual_periodicity,
            "dcat:temporalResolution": list(dataset.temporal_resolution),
            "odrl:hasPolicy": [self.policy_iri(name) for name in policies],
            "dcat:distribution": [
                self.distribution(dataset, iri, d) for d in dataset.distributions
            ],
            "kk:observes": [self.variable(v) for v in dataset.variables],
        }
        if len(licences) == 1:
            description["dct:license"] = licences[0]
        if not dataset.keywords.de and not dataset.keywords.en:
            del description["dcat:keyword"]
        if not dataset.temporal_resolution:
            del description["dcat:temporalResolution"]
        if dataset.notice is not None:
            description["kk:notice"] = _language_map(dataset.notice)
        if dataset.method_version is not None:
            description["kk:methodVersion"] = dataset.method_version
        if dataset.minimum_aggregate_size is not None:
            description["kk:minimumAggregateSize"] = str(dataset.minimum_aggregate_size)
        return description

    def period(self, period: Period) -> dict[str, Any]:
        out = {"type": "dct:PeriodOfTime", "dcat:startDate": period.start.isoformat()}
        if period.end is not None:
            out["dcat:endDate"] = period.end.isoformat()
        return out

    def distribution(self, dataset: Dataset, iri: str, dist: Distribution) -> dict[str, Any]:
        access = dist.access_url or (
            f"{self.base}{self.config.connector.dsp_path}/catalog/datasets/{dataset.slug}"
        )
        out: dict[str, Any] = {
            "id": f"{iri}/distributions/{dist.slug}",
            "type": "dcat:Distribution",
            "dct:title": _language_map(dist.title),
            "dcat:accessURL": access,
            "dct:format": FILE_TYPE + dist.format,
            "dcat:mediaType": MEDIA_TYPE + dist.media_type,
            "dct:license": dist.license,
            "odrl:hasPolicy": self.policy_iri(dist.policy),
        }
        if dist.attribution is not None:
            out["dcatde:licenseAttributionByText"] = dist.attribution
        if dist.temporal_resolution is not None:
            out["dcat:temporalResolution"] = dist.temporal_resolution
        return out

    def variable(self, variable: Variable) -> dict[str, Any]:
        out: dict[str, Any] = {
            "type": "kk:ObservedVariable",
            "kk:variable": variable.id,
            "kk:label": _language_map(variable.label),
            "kk:unit": QUDT_UNIT + variable.unit,
            "kk:unitSymbol": variable.symbol,
        }
        if variable.sampling_interval is not None:
            out["kk:samplingInterval"] = variable.sampling_interval
        if variable.min is not None:
            out["kk:typicalMinimum"] = _decimal(variable.min)
        if variable.max is not None:
            out["kk:typicalMaximum"] = _decimal(variable.max)
        return out
