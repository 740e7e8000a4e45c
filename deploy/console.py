"""Progress lines for long stack work; on stderr so that `stack status --json` keeps stdout clean."""
import sys


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
