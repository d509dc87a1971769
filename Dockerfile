# Hone service image: gunicorn serving service.app:create_app() on port 8000.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HONE_BIND=0.0.0.0:8000 \
    HONE_DATA_DIR=/data

RUN useradd --create-home --uid 10001 hone && mkdir /data && chown hone:hone /data
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY service ./service

USER hone
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status != 200)"]
CMD ["gunicorn", "-c", "service/gunicorn_conf.py", "service.app:create_app()"]
