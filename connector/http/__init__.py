"""Outbound HTTP adapters: the SSRF guard for every outbound target, and clients built on it."""
