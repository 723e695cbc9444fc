from __future__ import annotations

import pytest

from connector.errors import Forbidden, Invalid, Unavailable
from connector.http.guard import OutboundGuard


def fake_dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise OSError("no such host")
        return table[host]

    return resolve


GUARD = OutboundGuard.from_allowlist(
    [],
    resolver=fake_dns(
        {
            "partner.example": ["93.184.216.34"],
            "rebind.example": ["93.184.216.34", "10.0.0.5"],
            "v6.example": ["2606:4700::1111"],
            "mapped.example": ["::ffff:127.0.0.1"],
        }
    ),
)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/x",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://172.16.0.1/",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[fe80::1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
        "http://rebind.example/",
        "http://mapped.example/",
        "http://metadata.google.internal/",
        "ftp://partner.example/",
        "file:///etc/passwd",
        "gopher://partner.example/",
    ],
)
def test_refuses_non_public_targets(url: str) -> None:
    with pytest.raises(Forbidden) as info:
        GUARD.check_url(url)
    assert info.value.reason == "ssrf_blocked"


@pytest.mark.parametrize(
    "url", ["https://partner.example/dsp", "https://v6.example/", "https://93.184.216.34/"]
)
def test_allows_public_targets(url: str) -> None:
    GUARD.check_url(url)


@pytest.mark.parametrize(
    "url", ["http://user:pw@partner.example/", "http://", "http://[::1/", "x" * 3000]
)
def test_malformed_urls(url: str) -> None:
    with pytest.raises((Invalid, Forbidden)):
        GUARD.check_url(url)


def test_unresolvable_host() -> None:
    with pytest.raises(Unavailable):
        GUARD.check_url("https://nowhere.example/")


def test_allowlist_hosts_and_networks() -> None:
    guard = OutboundGuard.from_allowlist(
        ["127.0.0.1", "10.0.0.0/8", "intranet.hagen"],
        resolver=fake_dns({"db.hagen": ["10.2.3.4"], "intranet.hagen": ["192.168.0.1"]}),
    )
    guard.check_url("http://127.0.0.1:8181/api/dsp")
    guard.check_url("http://db.hagen/")
    guard.check_url("http://intranet.hagen/")
    with pytest.raises(Forbidden):
        guard.check_url("http://127.0.0.2/")
    with pytest.raises(Forbidden):
        guard.check_url("http://192.168.0.1/")
