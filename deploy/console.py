"""Progress lines for long stack work; on stderr so that `stack status --json` keeps stdout clean."""
import sys


def say(message: str) -> None:
    # One write per line: nodes stopped in parallel threads must not interleave halves of lines.
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
