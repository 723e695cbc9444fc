"""From a dataset's source to the bytes of one delivery, streaming all the way.

``source → narrowing → geofence → aggregation → projection → writer``. A single file that
needs no shaping and no re-encoding is passed through as raw bytes (the fast path). HTTP
upstreams are passed through (SensorThings options forwarded) unless the policy requires
shaping: then the upstream's response, by its media type (JSON, JSON Lines, CSV, GeoJSON), is
parsed as it arrives and flows through the same transforms; any other media type is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from connector.dataplane.confinement import SourceDirs
from connector.dataplane.delivery import Delivery
from connector.dataplane.enforcement import Plan
from connector.dataplane.narrowing import Narrowing
from connector.dataplane.readers import Record, media_kind, reader_for
from connector.dataplane.source import (
    FileSource,
    FileSpec,
    HttpSpec,
    SourceSpec,
    SqlSpec,
    parse_source,
)
from connector.dataplane.sql_source import SqlSources
from connector.dataplane.transforms import Aggregation, Geofence, project
from connector.dataplane.writers import MEDIA_TYPES, write
from connector.errors import ConnectorError, Forbidden, Invalid, NotFound, Unavailable
from connector.http.upstream import UpstreamClient

FORWARDED_REQUEST_HEADERS: Final = ("accept", "accept-language")
FORWARDED_RESPONSE_HEADERS: Final = ("content-type", "etag", "last-modified", "content-language")


@dataclass
class Payload:
    """What to send: a media type and the chunks (sync for file/SQL, async for HTTP)."""

    media_type: str
    chunks: Iterator[bytes] | AsyncIterator[bytes]
    headers: dict[str, str] = field(default_factory=dict)


class UpstreamSecrets:
    """``{{secret:NAME}}`` in an HTTP source's header values, read from ``<dir>/NAME``."""

    def __init__(self, directory: Path | None, values: Mapping[str, str] | None = None) -> None:
        self.directory = directory
        self.values = dict(values or {})

    def resolve(self, value: str) -> str:
        """The header value with secrets filled in (never logged, never sent to partners)."""
        out = value
        while "{{secret:" in out:
            start = out.index("{{secret:")
            end = out.find("}}", start)
            if end < 0:
                raise Invalid("unterminated secret reference", reason="invalid_source")
            name = out[start + 9 : end]
            out = out[:start] + self._value(name) + out[end + 2 :]
        return out

    def _value(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if not name.replace("-", "").replace("_", "").isalnum() or self.directory is None:
            raise Unavailable("upstream secret not configured", reason="secret_missing")
        path = self.directory / name
        if not path.is_file():
            raise Unavailable("upstream secret not configured", reason="secret_missing")
        return path.read_text(encoding="utf-8").strip()


def _limit(records: Iterable[Record], limit: int | None) -> Iterator[Record]:
    return iter(records) if limit is None else itertools.islice(records, limit)


class DataSources:
    """Opens a dataset's source for one delivery."""

    def __init__(
        self,
        dirs: SourceDirs,
        *,
        sql: SqlSources | None = None,
        upstream: UpstreamClient | None = None,
        secrets: UpstreamSecrets | None = None,
    ) -> None:
        self.dirs = dirs
        self.sql = sql or SqlSources(dirs)
        self.upstream = upstream
        self.secrets = secrets or UpstreamSecrets(None)

    def narrowing(
        self, source: Mapping[str, Any], delivery: Delivery, query: Iterable[tuple[str, str]]
    ) -> Narrowing:
        """Validate the consumer's query parameters for this dataset."""
        spec = parse_source(source)
        if isinstance(spec, HttpSpec):
            return Narrowing.from_query(query, filters={}, time_column=None, passthrough=True)
        return Narrowing.from_query(
            query, filters=delivery.filters, time_column=delivery.time, passthrough=False
        )

    def records(
        self,
        spec: SourceSpec,
        delivery: Delivery,
        narrowing: Narrowing,
        plan: Plan,
        upstream: tuple[Iterator[bytes], str] | None = None,
    ) -> tuple[Iterator[Record], str]:
        """The shaped records and the source's natural output kind (an HTTP source's
        response comes in as ``upstream``: its chunks and media type)."""
        aggregated = plan.aggregate is not None
        if isinstance(spec, HttpSpec) and upstream is not None:
            chunks, media = upstream
            kind = media_kind(media)
            rows: Iterator[Record] = reader_for(media)(chunks)
            unlimited = Narrowing(narrowing.start, narrowing.end, narrowing.filters)
            rows = (unlimited if aggregated else narrowing).apply(rows, delivery.time)
        elif isinstance(spec, FileSpec):
            source = FileSource(spec, self.dirs)
            rows = source.records()
            unlimited = Narrowing(narrowing.start, narrowing.end, narrowing.filters)
            rows = (unlimited if aggregated else narrowing).apply(rows, delivery.time)
            kind = source.kind
        elif isinstance(spec, SqlSpec):
            sql_narrowing = narrowing
            if aggregated:
                sql_narrowing = Narrowing(narrowing.start, narrowing.end, narrowing.filters)
            rows = self.sql.records(spec, sql_narrowing, delivery.time, ordered=aggregated)
            kind = "jsonl"
        else:
            raise Invalid("an HTTP source is opened asynchronously", reason="internal")
        if plan.geofence is not None and delivery.geofence is not None:
            rows = Geofence(plan.geofence, delivery.geofence.lon, delivery.geofence.lat).apply(rows)
        if plan.aggregate is not None and delivery.time is not None:
            spec_ = plan.aggregate
            rows = Aggregation(
                spec_.period_seconds, spec_.by, spec_.values, spec_.k, delivery.time, spec_.subject
            ).apply(rows)
            rows = _limit(rows, narrowing.limit)
        elif plan.columns:
            rows = project(rows, plan.columns)
        return rows, kind

    def open_sync(
        self,
        source: Mapping[str, Any],
        delivery: Delivery,
        narrowing: Narrowing,
        plan: Plan,
        fmt: str | None,
    ) -> Payload:
        """A file or SQL delivery (raises early for a missing or refused source)."""
        spec = parse_source(source)
        if isinstance(spec, HttpSpec):
            raise Invalid("an HTTP source is opened asynchronously", reason="internal")
        if fmt is not None and fmt not in MEDIA_TYPES:
            raise Invalid(f"unknown format {fmt!r}", reason="bad_query")
        shaped = plan.aggregate is not None or plan.geofence is not None or bool(plan.columns)
        if isinstance(spec, FileSpec):
            source_kind = media_kind(spec.media_type)
            single = FileSource(spec, self.dirs)
            if single.passthrough and not shaped and narrowing.empty and fmt in (None, source_kind):
                return Payload(spec.media_type, single.chunks())
        rows, kind = self.records(spec, delivery, narrowing, plan)
        out = _output_kind(kind, fmt, plan)
        return Payload(MEDIA_TYPES[out], write(rows, out))

    async def open_http(
        self,
        source: Mapping[str, Any],
        narrowing: Narrowing,
        plan: Plan,
        request_headers: Mapping[str, str],
        *,
        delivery: Delivery | None = None,
        fmt: str | None = None,
    ) -> Payload:
        """Stream an HTTP upstream (status checked before any byte is sent): passed through
        as it is, or parsed and shaped when ``plan`` requires it (``fmt`` then chooses the
        output format, as for file and SQL sources)."""
        spec = parse_source(source)
        if not isinstance(spec, HttpSpec):
            raise Invalid("not an HTTP source", reason="internal")
        shaped = plan.aggregate is not None or plan.geofence is not None or bool(plan.columns)
        if shaped and fmt is not None and fmt not in MEDIA_TYPES:
            raise Invalid(f"unknown format {fmt!r}", reason="bad_query")
        if self.upstream is None:
            raise Unavailable("no upstream client configured", reason="upstream_unreachable")
        url = spec.url
        if narrowing.passthrough:
            parts = urlsplit(url)
            extra = urlencode(narrowing.passthrough, safe="$,'()", quote_via=quote)
            query = f"{parts.query}&{extra}" if parts.query else extra
            url = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
        headers = {k: self.secrets.resolve(v) for k, v in spec.headers.items()}
        for name in FORWARDED_REQUEST_HEADERS:
            if name in request_headers and name not in {k.lower() for k in headers}:
                headers[name] = request_headers[name]
        context = self.upstream.request("GET", url, headers=headers)
        response = await context.__aenter__()
        if response.status != 200:
            await context.__aexit__(None, None, None)
            if 300 <= response.status < 400:
                raise Unavailable(
                    "upstream redirected; redirects are not followed", reason="upstream_redirect"
                )
            if response.status == 404:
                raise NotFound("upstream has no such resource", reason="upstream_not_found")
            raise Unavailable(f"upstream answered {response.status}", reason="upstream_status")
        if shaped:
            media = response.headers.get("content-type", "")
            try:
                media_kind(media)
            except Invalid:
                await context.__aexit__(None, None, None)
                raise Forbidden(
                    f"the agreement requires shaping (aggregation, geofence or column "
                    f"projection), but the upstream answered {media or 'without a media type'!r}; "
                    "only JSON, JSON Lines, CSV and GeoJSON responses can be shaped",
                    reason="shaping_unavailable",
                ) from None
            bridge = _Bridge(response.body, asyncio.get_running_loop())
            try:
                rows, kind = self.records(
                    spec, delivery or Delivery(), narrowing, plan, (bridge.chunks(), media)
                )
                out = _output_kind(kind, fmt, plan)
            except ConnectorError:
                await context.__aexit__(None, None, None)
                raise
            return Payload(MEDIA_TYPES[out], _shaped(write(rows, out), bridge, context.__aexit__))

        async def body() -> AsyncIterator[bytes]:
            try:
                async with contextlib.aclosing(response.body) as chunks:
                    async for chunk in chunks:
                        yield chunk
            finally:
                await context.__aexit__(None, None, None)

        passed = {k: v for k, v in response.headers.items() if k in FORWARDED_RESPONSE_HEADERS}
        media = passed.pop("content-type", "application/octet-stream")
        return Payload(media, body(), passed)


def _output_kind(kind: str, fmt: str | None, plan: Plan) -> str:
    """The output format: the requested one, else the source's (GeoJSON only for features)."""
    out = fmt or kind
    if out == "geojson" and kind != "geojson":
        out = "json"
    if kind == "geojson" and out == "geojson" and plan.aggregate is not None:
        out = "json"
    return out


class _Bridge:
    """An upstream body (async, on the event loop) read as a sync iterator from a worker
    thread, one chunk at a time, so the sync readers and transforms can parse it."""

    def __init__(self, body: AsyncGenerator[bytes, None], loop: asyncio.AbstractEventLoop) -> None:
        self.body = body
        self.loop = loop

    async def _next(self) -> bytes | None:
        try:
            return await anext(self.body)
        except StopAsyncIteration:
            return None

    def chunks(self) -> Iterator[bytes]:
        """The body's chunks; only to be iterated off the event loop's thread."""
        while True:
            chunk = asyncio.run_coroutine_threadsafe(self._next(), self.loop).result()
            if chunk is None:
                return
            yield chunk


async def _shaped(
    out: Iterator[bytes],
    bridge: _Bridge,
    close: Callable[[Any, Any, Any], Awaitable[Any]],
) -> AsyncIterator[bytes]:
    """The shaped output, produced in a worker thread chunk by chunk; the upstream
    connection is closed at the end, also when the consumer goes away early."""
    try:
        while True:
            chunk = await asyncio.to_thread(next, out, None)
            if chunk is None:
                return
            if chunk:
                yield chunk
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(_close, out)
        with contextlib.suppress(Exception):
            await bridge.body.aclose()
        await close(None, None, None)


def _close(out: Iterator[bytes]) -> None:
    closer = getattr(out, "close", None)
    if closer is not None:
        closer()
