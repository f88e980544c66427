# syntax=docker/dockerfile:1
# actas-ocr REST service on CPU: serving dependencies only (`pip install .`, no extras: no torch),
# the model inside the image, a non-root user, a health check.
#   docker build -t actas-ocr .
#   docker run -p 8000:8000 -v actas-data:/data actas-ocr
#   docker run --rm -v actas-data:/data actas-ocr actas keys create admin --role reviewer
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY pipeline/ pipeline/
COPY actas/ actas/
COPY service/ service/
RUN pip install --no-cache-dir . \
    && python -c "import pipeline.reader, service.app, actas.cli"

FROM ${PYTHON_IMAGE}
RUN groupadd --system --gid 10001 actas \
    && useradd --system --uid 10001 --gid actas --home-dir /app --no-create-home --shell /usr/sbin/nologin actas \
    && mkdir -p /app /data \
    && chown 10001:10001 /data
COPY --from=build /opt/venv /opt/venv
COPY models/ /app/models/
# The installed package does not sit beside models/, so the model path is explicit: the int8 model on
# the CPU (Dockerfile.gpu runs the float one).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ACTAS_MODEL_PATH=/app/models/convnext_tiny_int8.onnx \
    ACTAS_DATABASE_URL=sqlite:////data/actas.db \
    ACTAS_HOST=0.0.0.0 \
    ACTAS_PORT=8000 \
    ACTAS_PREFER_GPU=false
WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/ready', timeout=4)"]
CMD ["actas", "serve"]
