"""klimakommune-connector: a Gaia-X-style federated data connector for German municipalities."""

__version__ = "0.1.0"
