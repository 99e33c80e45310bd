# One image for every Polku service: `polku serve <service>` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    POLKU_VAR_DIR=/app/var

# libpq for psycopg (eventsourcing's PostgreSQL recorder) when no psycopg binary wheel is used.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home-dir /app --shell /usr/sbin/nologin polku

WORKDIR /src
COPY . .
RUN pip install . \
    && mkdir -p /app/var \
    && chown polku:polku /app/var

WORKDIR /app
USER polku
CMD ["polku", "--help"]
