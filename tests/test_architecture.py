"""The import rules of pyproject.toml's [tool.importlinter] hold (stages pure, layers downhill,
measuring code apart from the product)."""
import subprocess
import sys
from pathlib import Path

from newsstream.settings import PROJECT_ROOT


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
