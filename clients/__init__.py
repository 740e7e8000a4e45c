"""Clients for what newsstream talks to (Kafka, outbound HTTP, mail) and their safety guards."""
