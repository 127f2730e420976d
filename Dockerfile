# The one image of the helpdesk. docker-compose.yml runs it three ways: web (gunicorn), worker and
# beat (Celery), with the same commands `make run` starts (helpdesk/launch.py). All configuration
# comes from the environment at run time (README, "Configuration"); nothing secret is baked in. The image
# expects to be served over HTTPS by a proxy that sets X-Forwarded-Proto (HTTPS=false for plain http).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    STATIC_ROOT=/app/staticfiles \
    HTTPS=true \
    PROXY_SSL_HEADER=X-Forwarded-Proto \
    MEDIA_ROOT=/data/media

WORKDIR /app

# Dependencies first, so this layer is rebuilt only when the lock changes. Every pinned package ships
# a manylinux wheel for CPython 3.11 on x86_64, so no compiler is needed.
COPY requirements.lock ./
RUN pip install -r requirements.lock

# The project, path by path rather than `COPY .`: the local .data/ (embedded database, Redis dump,
# generated secret key) and .venv/ must never end up in an image.
COPY manage.py pyproject.toml ./
COPY helpdesk/ helpdesk/
COPY tickets/ tickets/
COPY slas/ slas/
COPY escalation/ escalation/
COPY callnotes/ callnotes/
COPY mail/ mail/
COPY metrics/ metrics/
COPY templates/ templates/
COPY static/ static/

# The settings refuse to load without these three variables. For this one build step they get
# placeholders: collectstatic connects to nothing, and the values are not kept in the image's
# environment, so a container started without a real SECRET_KEY still fails loudly.
RUN SECRET_KEY=build-only-collectstatic-placeholder-0123456789abcdef \
    DATABASE_URL=postgres://x@localhost/x \
    REDIS_URL=redis://localhost:6379/0 \
    python manage.py collectstatic --noinput --verbosity 0

# A home directory, because gunicorn puts its control socket under ~/.gunicorn.
# Uploads (attachments) live in /data/media, owned by that user: docker-compose.yml mounts a named volume
# there, which starts with this folder's owner.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin helpdesk \
    && mkdir -p /data/media && chown helpdesk /data/media
USER helpdesk

EXPOSE 8000
CMD ["gunicorn", "helpdesk.wsgi", "--config", "python:helpdesk.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "2", "--threads", "4", "--access-logfile", "-"]
