"""Use cases: catalogue, negotiation, transfer and the state-machine runner; ports.py declares what they need."""
