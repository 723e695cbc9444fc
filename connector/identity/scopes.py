"""DCP scopes: ``org.eclipse.dspace.dcp.vc.type:<type>`` (read access to credentials by type)
and ``org.eclipse.dspace.dcp.vc.id:<id>`` (by id). A trailing ``:read`` (as some
implementations send) is accepted and ignored; other access modes are refused."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from connector.errors import Invalid

TYPE_ALIAS = "org.eclipse.dspace.dcp.vc.type"
ID_ALIAS = "org.eclipse.dspace.dcp.vc.id"
MEMBERSHIP_TYPE = "MembershipCredential"
MEMBERSHIP_SCOPE = f"{TYPE_ALIAS}:{MEMBERSHIP_TYPE}"
MAX_SCOPES = 32


@dataclass(frozen=True)
class Scope:
    alias: str
    """``type`` or ``id``."""
    value: str


def scope_for_type(credential_type: str) -> str:
    """The scope that grants read access to credentials of ``credential_type``."""
    return f"{TYPE_ALIAS}:{credential_type}"


def normalise_scope(value: str) -> str:
    """A DCP scope for ``value``: a bare credential type (``MembershipCredential``) becomes
    its ``vc.type`` scope; anything else is returned unchanged."""
    return scope_for_type(value) if value and ":" not in value else value


def parse_scope(scope: str) -> Scope:
    """Parse one scope; ``Invalid`` (reason ``invalid_scope``) if it is not one we serve."""
    if scope.startswith(TYPE_ALIAS + ":"):
        value = scope[len(TYPE_ALIAS) + 1 :].removesuffix(":read")
        if value and ":" not in value and len(value) <= 200:
            return Scope("type", value)
    elif scope.startswith(ID_ALIAS + ":"):
        value = scope[len(ID_ALIAS) + 1 :]
        if value and len(value) <= 2048:
            return Scope("id", value)
    raise Invalid(f"unsupported scope {scope[:80]!r}", reason="invalid_scope")


def parse_scopes(scopes: Iterable[str]) -> list[Scope]:
    """Parse a list of scopes (at most :data:`MAX_SCOPES`)."""
    parsed = [parse_scope(s) for s in scopes]
    if len(parsed) > MAX_SCOPES:
        raise Invalid(f"more than {MAX_SCOPES} scopes", reason="invalid_scope")
    return parsed
