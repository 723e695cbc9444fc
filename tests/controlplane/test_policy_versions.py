"""Compiled forms of policy versions: kept per version hash, never mixed up."""

from __future__ import annotations

from connector.controlplane.policies import (
    PolicyVersion,
    compiled,
    policy_hash,
    target_collections,
)

OPEN = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/open",
    "permission": [{"action": "use"}],
}
GROUPED = {
    "@context": "http://www.w3.org/ns/odrl.jsonld",
    "@type": "Set",
    "uid": "https://example.org/policies/grouped",
    "permission": [
        {
            "action": "use",
            "target": {"@type": "AssetCollection", "uid": "https://example.org/sets/energy"},
        }
    ],
}


def _version(body: dict[str, object], digest: str | None = None) -> PolicyVersion:
    return PolicyVersion("p", 1, digest or policy_hash(body), str(body["uid"]), body)


def test_a_version_is_compiled_once_per_hash() -> None:
    first, again = _version(OPEN), _version(dict(OPEN))
    assert compiled(first) is compiled(again)
    assert target_collections(_version(GROUPED)) == frozenset({"https://example.org/sets/energy"})
    assert target_collections(first) == frozenset()


def test_a_version_whose_hash_does_not_name_its_body_never_enters_the_cache() -> None:
    fresh = {**OPEN, "uid": "https://example.org/policies/fresh"}
    wrong = _version(GROUPED, digest=policy_hash(fresh))  # claims to be ``fresh``
    assert target_collections(wrong) == frozenset({"https://example.org/sets/energy"})
    assert target_collections(_version(fresh)) == frozenset()  # not what ``wrong`` carried
