# The application image: web (gunicorn), worker and beat all run from it (see docker-compose.yml).
# Building needs the Python package index; the running app calls nothing outside the network.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    DJANGO_MEDIA_ROOT=/app/media

WORKDIR /app

COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# An unprivileged user owns only what the app writes: collected static files and uploads.
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin chemreg \
    && mkdir -p /app/staticfiles /app/media \
    && chown chemreg:chemreg /app/staticfiles /app/media
USER chemreg

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "120", "--access-logfile", "-"]
