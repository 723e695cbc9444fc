from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from connector.settings import Settings


def test_defaults_and_derived_values() -> None:
    s = Settings()
    assert s.data_dir == Path("./var")
    assert s.port == 8181
    assert s.base_url == "http://127.0.0.1:8181"
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_database_url.endswith("var/connector.db")


def test_environment_variables(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CONNECTOR_PORT", "9000")
    monkeypatch.setenv("CONNECTOR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://daten.hagen.example/")
    monkeypatch.setenv("CONNECTOR_TRUSTED_PARTICIPANTS", "did:web:a.example, did:web:b.example")
    monkeypatch.setenv("CONNECTOR_ALLOW_INSECURE_DID_WEB", "true")
    monkeypatch.setenv("CONNECTOR_DATABASE_URL", "postgresql://x@localhost/db")
    s = Settings()
    assert s.port == 9000
    assert s.data_dir == tmp_path
    assert s.base_url == "https://daten.hagen.example"
    assert s.trusted_participants == ["did:web:a.example", "did:web:b.example"]
    assert s.allow_insecure_did_web is True
    assert s.effective_database_url == "postgresql://x@localhost/db"


def test_toml_file_below_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "connector.toml"
    config.write_text('port = 8282\nhost = "0.0.0.0"\ntrusted_issuers = ["did:web:auth.example"]\n')
    monkeypatch.setenv("CONNECTOR_CONFIG_FILE", str(config))
    s = Settings()
    assert s.port == 8282
    assert s.trusted_issuers == ["did:web:auth.example"]
    assert s.base_url == "http://127.0.0.1:8282"
    monkeypatch.setenv("CONNECTOR_PORT", "8383")
    assert Settings().port == 8383


def test_secrets_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "connector_management_api_key").write_text("s3cr3t-from-a-file-0123456789")
    monkeypatch.setenv("CONNECTOR_SECRETS_DIR", str(tmp_path))
    s = Settings()
    assert s.management_api_key is not None
    assert s.management_api_key.get_secret_value() == "s3cr3t-from-a-file-0123456789"
    assert "s3cr3t" not in repr(s)


def test_production_refuses_default_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONNECTOR_ENVIRONMENT", "production")
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "https://daten.hagen.example")
    monkeypatch.setenv("CONNECTOR_MANAGEMENT_API_KEY", "changeme")
    monkeypatch.setenv("CONNECTOR_AUDITOR_API_KEY", "a-real-auditor-key-0123456789")
    with pytest.raises(ValidationError, match="MANAGEMENT_API_KEY"):
        Settings()
    monkeypatch.setenv("CONNECTOR_MANAGEMENT_API_KEY", "a-real-management-key-0123456789")
    assert Settings().environment == "production"
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", "http://daten.hagen.example")
    with pytest.raises(ValidationError, match="https"):
        Settings()


@pytest.mark.parametrize("bad", ["ftp://x", "not a url", "http://"])
def test_public_url_must_be_http(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("CONNECTOR_PUBLIC_URL", bad)
    with pytest.raises(ValidationError):
        Settings()
