"""Trust layer: pinned JSON-LD, canonicalization, proofs, VC/VP, DIDs, keys (pure, no network)."""
