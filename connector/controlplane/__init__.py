"""Use cases: catalogue, negotiation, transfer and the state-machine runner.

``ports.py`` declares the stores and clients they need (Protocols).
"""
