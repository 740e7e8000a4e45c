"""The `newsstream` command: one module per command group, assembled in `main`."""
from newsstream.cli.main import app

__all__ = ["app"]
