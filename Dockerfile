# The image compose.yaml builds: mailsleuth with the cluster extra (PostgreSQL + Redis).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir '.[cluster]'
USER nobody
