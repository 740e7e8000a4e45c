"""Fetch Kafka and Elasticsearch with Maven, once: they are cached under `<state_dir>/dist/`.

Each artifact is assembled in a hidden scratch directory and renamed into place when complete, so the
presence of `dist/kafka-<version>/` or `dist/elasticsearch-<version>/` is the proof of a finished fetch:
a second `up` neither downloads nor unzips anything.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from deploy.console import say
from deploy.errors import StackError
from deploy.config import StackConfig

KAFKA_POM = Path(__file__).with_name("kafka-pom.xml")
ELASTICSEARCH_ARTIFACT = "org.elasticsearch.distribution.integ-test-zip:elasticsearch:{version}:zip"
_MAVEN_FAILURE_TAIL_LINES = 30


def dist_dir(config: StackConfig) -> Path:
    return config.state_dir / "dist"


def kafka_libs(config: StackConfig) -> Path:
    """The directory of the broker's jars (`java -cp '<it>/*'`), fetched on first use."""
    home = dist_dir(config) / f"kafka-{config.kafka_version}"
    if not home.is_dir():
        say(f"kafka: fetching {config.kafka_version} with Maven…")
        started = time.monotonic()
        with _scratch_for(home) as scratch:
            _run_maven(
                "kafka",
                ["-f", str(KAFKA_POM), "dependency:copy-dependencies",
                 f"-Dkafka.version={config.kafka_version}", f"-DoutputDirectory={scratch / home.name / 'libs'}"],
                cwd=scratch,
            )
            (scratch / home.name).rename(home)
        jars = list((home / "libs").glob("*.jar"))
        say(f"kafka: fetched {len(jars)} jars ({_megabytes(home)} MB) in {time.monotonic() - started:.1f} s")
    return home / "libs"


def elasticsearch_home(config: StackConfig) -> Path:
    """The unzipped Elasticsearch distribution (ES_HOME), fetched and unzipped on first use."""
    version = config.elasticsearch_version
    home = dist_dir(config) / f"elasticsearch-{version}"
    if not home.is_dir():
        say(f"elasticsearch: fetching {version} with Maven…")
        started = time.monotonic()
        with _scratch_for(home) as scratch:
            _run_maven(
                "elasticsearch",
                ["dependency:copy", f"-Dartifact={ELASTICSEARCH_ARTIFACT.format(version=version)}",
                 f"-DoutputDirectory={scratch}"],
                cwd=scratch,
            )
            archive = scratch / f"elasticsearch-{version}.zip"
            say(f"elasticsearch: unzipping {archive.stat().st_size / 1e6:.0f} MB…")
            # Its single top directory, elasticsearch-<version>/, is the home; the zip goes (~/.m2 keeps it).
            _unzip_keeping_modes(archive, scratch)
            (scratch / home.name).rename(home)
        say(f"elasticsearch: fetched and unzipped ({_megabytes(home)} MB) in {time.monotonic() - started:.1f} s")
    return home


@contextmanager
def _scratch_for(final: Path) -> Iterator[Path]:
    """A fresh `.<name>.partial` directory beside `final`, removed afterwards whatever happens.

    Callers build `<scratch>/<final name>` and rename it to `final` as their last step.
    """
    scratch = final.with_name(f".{final.name}.partial")
    shutil.rmtree(scratch, ignore_errors=True)  # leftovers of an interrupted fetch
    scratch.mkdir(parents=True)
    try:
        yield scratch
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _run_maven(service: str, arguments: list[str], cwd: Path) -> None:
    maven = shutil.which("mvn")
    if maven is None:
        raise StackError(f"{service}: Maven (`mvn`) is needed to fetch it; install it, e.g. `apt-get install maven`")
    # -B/-ntp: no colours or transfer progress in the captured output; -q: only errors.
    result = subprocess.run([maven, "-B", "-ntp", "-q", *arguments], cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()
        for line in output[-_MAVEN_FAILURE_TAIL_LINES:]:
            say(f"  mvn | {line}")
        raise StackError(f"{service}: Maven failed (exit {result.returncode}); its output is above")


def _unzip_keeping_modes(archive: Path, destination: Path) -> None:
    """Unzip, restoring the Unix permission bits that zipfile drops (bin/elasticsearch must stay executable)."""
    with zipfile.ZipFile(archive) as zipped:
        for entry in zipped.infolist():
            extracted = zipped.extract(entry, destination)
            mode = (entry.external_attr >> 16) & 0o7777
            if mode:
                os.chmod(extracted, mode)


def _megabytes(directory: Path) -> int:
    return round(sum(path.stat().st_size for path in directory.rglob("*") if path.is_file()) / 1e6)
