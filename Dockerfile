# gradsheet's REST API: gunicorn serving service.wsgi:app on port 8000.
# The Numba kernels are compiled at build time into NUMBA_CACHE_DIR, so a container
# loads them from disk (about a second) instead of compiling (tens of seconds).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    NUMBA_CACHE_DIR=/var/cache/gradsheet/numba \
    PROMETHEUS_MULTIPROC_DIR=/tmp/gradsheet-metrics \
    GRADSHEET_PORT=8000

WORKDIR /app
# The locked versions first, hash-checked, in their own layer: a code change does not
# reinstall them. Then the project without resolving anything, and pip check to fail
# the build if pyproject.toml wants what the lock lacks.
COPY requirements/service.txt ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/service.txt
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY worksheets ./worksheets
COPY service ./service
RUN pip install --no-cache-dir --no-deps . \
    && pip check \
    && useradd --system --no-create-home gradsheet \
    && mkdir -p "$NUMBA_CACHE_DIR" /var/lib/gradsheet/jobs \
    && gradsheet warmup \
    && chown -R gradsheet "$NUMBA_CACHE_DIR" /var/lib/gradsheet/jobs

# A fresh named volume mounted at /var/lib/gradsheet/jobs copies this directory's owner,
# so the jobs store is writable by the gradsheet user.
USER gradsheet
EXPOSE 8000
# Bind all interfaces inside the container; nginx reaches the replicas on the
# compose network. The healthcheck in docker-compose.yml polls /readyz.
# `gradsheet serve` exits at once, saying what to set, without GRADSHEET_SECRET or
# GRADSHEET_INSTRUCTOR_TOKENS (pass --no-instructor to serve without answer keys).
CMD ["sh", "-c", "exec gradsheet serve --host 0.0.0.0 --port \"$GRADSHEET_PORT\""]
