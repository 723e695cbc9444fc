"""SQL adapters (SQLite embedded, PostgreSQL for replicas) for the control plane's ports."""
