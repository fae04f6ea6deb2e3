"""The one SparkSession builder: classic or a Spark Connect client, chosen by the environment
(no JVM: the Connect builder is a fake that records what it was asked)."""

from __future__ import annotations

import logging
import os
import socket
import time

import pytest

from spark_jobs import session
from spark_jobs.errors import SparkServerUnavailable
from spark_jobs.session import REMOTE_ENV
from spark_jobs.stage import shipping

URL = "sc://127.0.0.1:15002"


@pytest.mark.parametrize(
    ("value", "url"),
    [(None, None), ("", None), ("  \t", None), (f" {URL}\n", URL), (URL, URL)],
)
def test_the_remote_url_comes_from_the_environment_and_blank_means_classic(monkeypatch, value, url):
    if value is None:
        monkeypatch.delenv(REMOTE_ENV, raising=False)
    else:
        monkeypatch.setenv(REMOTE_ENV, value)
    assert session.remote_url() == url


def _instance_of(module: str) -> object:
    return type("SparkSession", (), {"__module__": module})()


def test_a_session_is_remote_when_its_class_is_spark_connects():
    assert session.is_remote(_instance_of("pyspark.sql.connect.session"))
    assert not session.is_remote(_instance_of("pyspark.sql.session"))


class _FakeConf:
    """A Connect session's conf: runtime ``spark.sql.*`` may change, the driver's may not."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def isModifiable(self, key: str) -> bool:  # noqa: N802 - pyspark's name
        return key.startswith("spark.sql.")

    def set(self, key: str, value: str) -> None:
        assert self.isModifiable(key), f"{key} set over Connect"
        self.values[key] = value


class _FakeSession:
    def __init__(self) -> None:
        self.conf = _FakeConf()


class _FakeBuilder:
    """``SparkSession.builder`` for a Connect client: records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[object, ...]]] = []
        self.session = _FakeSession()

    def _record(self, name: str, *args: object) -> _FakeBuilder:
        self.calls.append((name, args))
        return self

    def remote(self, url: str) -> _FakeBuilder:
        return self._record("remote", url)

    def appName(self, name: str) -> _FakeBuilder:  # noqa: N802 - pyspark's name
        return self._record("appName", name)

    def master(self, master: str) -> _FakeBuilder:
        return self._record("master", master)

    def config(self, key: str, value: str) -> _FakeBuilder:
        return self._record("config", key, value)

    def getOrCreate(self) -> _FakeSession:  # noqa: N802 - pyspark's name
        self.calls.append(("getOrCreate", ()))
        return self.session


@pytest.fixture
def fake_builder(monkeypatch) -> _FakeBuilder:
    from pyspark.sql import SparkSession

    builder = _FakeBuilder()
    monkeypatch.setattr(SparkSession, "builder", builder)
    # No server listens: the port check is recorded as a call of the builder instead.
    monkeypatch.setattr(
        session, "require_server", lambda url: builder._record("require_server", url)
    )
    return builder


@pytest.fixture
def listening_port():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_listening_server_is_accepted_at_once(listening_port):
    started = time.monotonic()
    session.require_server(f"sc://127.0.0.1:{listening_port}/;user_id=x", wait_s=5)
    assert time.monotonic() - started < 2


def test_no_server_is_a_one_line_error_naming_the_url_and_what_to_start():
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"sc://127.0.0.1:{port}"
    with pytest.raises(SparkServerUnavailable) as caught:
        session.require_server(url, wait_s=0.5)
    message = str(caught.value)
    assert "\n" not in message
    assert url in message and REMOTE_ENV in message
    assert "make spark-connect" in message and "SPARK_MODE=classic" in message


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("sc://10.0.0.5", ("10.0.0.5", 15002)),
        ("sc://spark.example:443/;use_ssl=true", ("spark.example", 443)),
    ],
)
def test_the_server_address_defaults_to_connects_port(url, address):
    assert session.server_address(url) == address


@pytest.mark.parametrize("url", ["http://127.0.0.1:15002", "127.0.0.1:15002", "sc://"])
def test_a_url_that_is_not_sc_is_named_in_the_error(url):
    with pytest.raises(SparkServerUnavailable, match="is not a Spark Connect URL"):
        session.server_address(url)


def test_with_a_remote_url_the_session_is_a_connect_client_with_only_runtime_settings(
    monkeypatch, caplog, fake_builder
):
    monkeypatch.setenv(REMOTE_ENV, URL)
    monkeypatch.setenv("MASTER", "spark://cluster:7077")  # what spark-submit exports
    conf = {"spark.sql.shuffle.partitions": "8", "spark.driver.memory": "4g"}
    with caplog.at_level(logging.INFO, logger="botwatch"):
        spark = session.spark_session("stage-x", "test", conf)

    assert spark is fake_builder.session
    assert fake_builder.calls[:2] == [("require_server", (URL,)), ("remote", (URL,))]
    assert ("appName", ("stage-x",)) in fake_builder.calls
    assert fake_builder.calls[-1] == ("getOrCreate", ())
    assert not [name for name, _ in fake_builder.calls if name in {"master", "config"}]
    assert spark.conf.values == {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "false",
    }
    assert "MASTER" not in os.environ
    server_side = [
        r.getMessage() for r in caplog.records if "belong to the server" in r.getMessage()
    ]
    assert len(server_side) == 1
    for key in (
        "spark.default.parallelism",
        "spark.driver.extraJavaOptions",
        "spark.driver.memory",
        "spark.ui.enabled",
        "spark.ui.showConsoleProgress",
    ):
        assert key in server_side[0]
    assert "spark.sql." not in server_side[0]


def test_nothing_is_logged_when_every_setting_applies_over_connect(
    monkeypatch, caplog, fake_builder
):
    monkeypatch.setenv(REMOTE_ENV, URL)
    with caplog.at_level(logging.INFO, logger="botwatch"):
        spark = session.spark_session("stage-x", "submit", {"spark.sql.ansi.enabled": "true"})
    assert spark.conf.values == {
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.ansi.enabled": "true",
    }
    assert not [r for r in caplog.records if "belong to the server" in r.getMessage()]


def test_an_unknown_profile_is_an_error_before_any_session(monkeypatch, fake_builder):
    monkeypatch.setenv(REMOTE_ENV, URL)
    with pytest.raises(ValueError, match="unknown Spark profile 'laptop'"):
        session.spark_session("x", "laptop")
    assert fake_builder.calls == []


@pytest.mark.parametrize("master", ["local[*]", "local[2]", "spark://127.0.0.1:7077", "yarn"])
def test_code_always_ships_to_a_connect_server_unless_turned_off(master):
    assert shipping.should_ship(master, "auto", remote=True) is True
    assert shipping.should_ship(master, "false", remote=True) is False
