# The worker image: `docker compose up --scale worker=N` runs N of these against one Redis.
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY worker ./worker
COPY schemas ./schemas
RUN pip install --no-cache-dir .
RUN useradd --create-home --uid 10001 worker
USER worker
ENV OPENAI_WORKER_LOG_FORMAT=json
ENTRYPOINT ["openai-worker"]
CMD ["run", "--processes", "1", "--threads", "16"]
