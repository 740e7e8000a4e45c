"""The local stack: a real Kafka and a real Elasticsearch fetched with Maven and run under `.stack/`."""
