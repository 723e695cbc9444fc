# klimakommune-connector — slim image, non-root, no secrets baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    CONNECTOR_HOST=0.0.0.0 \
    CONNECTOR_PORT=8181 \
    CONNECTOR_DATA_DIR=/var/lib/connector

RUN useradd --system --uid 10001 --home-dir /var/lib/connector --create-home connector

WORKDIR /app
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY self-descriptions ./self-descriptions
COPY policies ./policies
RUN pip install --no-cache-dir . && rm -rf /root/.cache

USER connector
EXPOSE 8181
VOLUME ["/var/lib/connector"]

HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('CONNECTOR_PORT','8181'), timeout=2)" || exit 1

CMD ["connector", "serve"]
