"""Dataspace Protocol 2025-1 wire format: message models, compact JSON in/out, error bodies.

- :mod:`connector.dsp.catalog`, :mod:`~connector.dsp.negotiation`,
  :mod:`~connector.dsp.transfer`, :mod:`~connector.dsp.policy`, :mod:`~connector.dsp.version`:
  typed models of every message (pydantic, aliases = wire terms);
- :mod:`connector.dsp.codec`: ``parse``/``loads`` (validate, ``Invalid`` naming the field) and
  ``serialize``/``dumps`` (compact JSON with the DSP context);
- :mod:`connector.dsp.messages`: the registry by ``@type`` and message → state-machine event;
- :mod:`connector.dsp.schemas`: this connector's own JSON Schemas of the models;
- :mod:`connector.dsp.errors`: errors → DSP error bodies and status codes;
- :mod:`connector.dsp.conversion`: domain values ⇄ wire models.

Pure: no web framework, database or HTTP client here.
"""

from connector.dsp.base import DSP_CONTEXT, RootMessage, WireModel
from connector.dsp.codec import dumps, loads, parse, parse_version, serialize

__all__ = [
    "DSP_CONTEXT",
    "RootMessage",
    "WireModel",
    "dumps",
    "loads",
    "parse",
    "parse_version",
    "serialize",
]
