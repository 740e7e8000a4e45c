# The service's image (newsstream:0.1.0 in deploy/k8s/): `newsstream worker`, `api` or `feeds run`,
# installed the way `make setup` does: every package from requirements.lock by its hash, the
# project's own NER models from models/dist/, then the checkout itself (which holds the gazetteer).
FROM python:3.11-slim

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY models/dist/ models/dist/
RUN pip install --no-cache-dir --no-deps --no-index models/dist/*.whl
COPY . .
RUN pip install --no-cache-dir --no-deps --no-build-isolation -e .

# Faust's data directory; never root, like the Elasticsearch the local stack runs.
RUN useradd --system --user-group --home-dir /var/lib/newsstream --create-home newsstream
USER newsstream
ENV NEWSSTREAM_STATE_DIR=/var/lib/newsstream
ENTRYPOINT ["newsstream"]
CMD ["--help"]
