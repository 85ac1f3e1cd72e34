"""GRADSHEET_* settings: a bad value names the variable, the value and what is allowed;
bounds hold at both ends; `gradsheet config` prints the effective values with the
secret masked; the app signs tokens with the secret it was configured with."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import worksheets
from service import create_app
from service.cli import main
from service.config import ConfigError, ServerSettings, Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for key in list(os.environ):
        if key.startswith("GRADSHEET_"):
            monkeypatch.delenv(key)


@pytest.mark.parametrize("model, variable, value, allowed", [
    (Settings, "GRADSHEET_MAX_NODES", "10k", "a whole number from 1 to 10000000"),
    (Settings, "GRADSHEET_MAX_PENDING", "-5", "a whole number from 0 to 100000"),
    (Settings, "GRADSHEET_MAX_PENDING", "100001", "a whole number from 0 to 100000"),
    (Settings, "GRADSHEET_MAX_DEPTH", "1001", "a whole number from 1 to 1000"),
    (Settings, "GRADSHEET_RETRY_AFTER_SECONDS", "1.5", "a whole number from 1 to 3600"),
    (Settings, "GRADSHEET_MAX_BODY_BYTES", "0", "a whole number from 1 to 1073741824"),
    (Settings, "GRADSHEET_WARMUP", "later", "one of sync, background, off"),
    (ServerSettings, "GRADSHEET_WORKERS", "0", "a whole number from 1 to 256"),
    (ServerSettings, "GRADSHEET_THREADS", "four", "a whole number from 1 to 256"),
    (ServerSettings, "GRADSHEET_WORKER_CLASS", "gevent", "one of gthread, sync"),
    (ServerSettings, "GRADSHEET_LOG_LEVEL", "loud", "one of debug, info, warning, error"),
    (ServerSettings, "GRADSHEET_CACHE_WARMUP", "maybe", "true or false"),
])
def test_a_bad_value_names_the_variable_the_value_and_what_is_allowed(
        monkeypatch, model, variable, value, allowed):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        model.from_mapping()
    message = str(caught.value)
    assert message.startswith(f"{variable}={value!r}: ")
    assert f"allowed: {allowed}" in message
    assert "invalid literal" not in message


@pytest.mark.parametrize("variable, lowest, highest", [
    ("GRADSHEET_MAX_PENDING", 0, 100_000),
    ("GRADSHEET_MAX_DEPTH", 1, 1_000),
    ("GRADSHEET_MAX_BODY_BYTES", 1, 1024 ** 3),
    ("GRADSHEET_RETRY_AFTER_SECONDS", 1, 3_600),
])
def test_each_bound_is_allowed_and_one_past_it_is_not(monkeypatch, variable, lowest, highest):
    name = variable.removeprefix("GRADSHEET_").lower()
    for good in (lowest, highest):
        monkeypatch.setenv(variable, str(good))
        assert getattr(Settings.from_mapping(), name) == good
    for bad in (lowest - 1, highest + 1):
        monkeypatch.setenv(variable, str(bad))
        with pytest.raises(ConfigError, match=f"^{variable}='{bad}': input should be"):
            Settings.from_mapping()


def test_every_bad_value_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("GRADSHEET_MAX_NODES", "10k")
    monkeypatch.setenv("GRADSHEET_MAX_PENDING", "-5")
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping()
    lines = str(caught.value).splitlines()
    assert [line.split("=")[0] for line in lines] == ["GRADSHEET_MAX_NODES",
                                                      "GRADSHEET_MAX_PENDING"]


def test_create_app_overrides_beat_the_environment_and_are_checked_alike(monkeypatch):
    monkeypatch.setenv("GRADSHEET_MAX_NODES", "7")
    assert Settings.from_mapping().max_nodes == 7
    assert Settings.from_mapping({"max_nodes": 500}).max_nodes == 500
    assert Settings.from_mapping({"GRADSHEET_MAX_NODES": "600"}).max_nodes == 600
    with pytest.raises(ConfigError, match=r"^GRADSHEET_MAX_PENDING=-5: .*from 0 to 100000"):
        create_app({"warmup": "off", "max_pending": -5})


def test_an_empty_secret_counts_as_unset(monkeypatch):
    monkeypatch.setenv("GRADSHEET_SECRET", "")
    assert Settings.from_mapping().secret is None


def test_a_bad_secret_is_reported_without_its_value():
    with pytest.raises(ConfigError) as caught:
        Settings.from_mapping({"secret": 31337})
    assert str(caught.value).startswith("GRADSHEET_SECRET='********': ")
    assert "31337" not in str(caught.value)


def test_gradsheet_config_prints_the_effective_values_and_masks_the_secret(monkeypatch, capsys):
    monkeypatch.setenv("GRADSHEET_SECRET", "hunter2-do-not-print")
    monkeypatch.setenv("GRADSHEET_MAX_NODES", "500")
    monkeypatch.setenv("GRADSHEET_THREADS", "8")
    monkeypatch.setenv("GRADSHEET_MAX_NODE", "5")  # a typo: reported, not used
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert "hunter2" not in out
    lines = {line.split("=", 1)[0]: line.split("=", 1)[1] for line in out.splitlines()
             if not line.startswith("#")}
    assert lines["GRADSHEET_SECRET"].startswith("********  # environment")
    assert lines["GRADSHEET_MAX_NODES"].startswith("500  # environment")
    assert lines["GRADSHEET_MAX_PENDING"].startswith("64  # default")
    assert lines["GRADSHEET_THREADS"].startswith("8  # environment")
    assert lines["GRADSHEET_WARMUP"].startswith("background  # default")
    assert "# set but read by no setting here (a typo?): GRADSHEET_MAX_NODE\n" in out


def test_gradsheet_config_exits_2_naming_each_bad_variable(monkeypatch, capsys):
    monkeypatch.setenv("GRADSHEET_MAX_NODES", "10k")
    monkeypatch.setenv("GRADSHEET_WORKERS", "0")
    assert main(["config"]) == 2
    err = capsys.readouterr().err
    assert "GRADSHEET_MAX_NODES='10k': input should be a valid integer" in err
    assert "GRADSHEET_WORKERS='0': input should be greater than or equal to 1" in err


def test_gunicorns_master_stops_on_a_bad_value_before_forking():
    env = {key: value for key, value in os.environ.items() if not key.startswith("GRADSHEET_")}
    result = subprocess.run([sys.executable, "-c", "import service.gunicorn_conf"],
                            env={**env, "GRADSHEET_MAX_PENDING": "-5"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "GRADSHEET_MAX_PENDING='-5': input should be greater than or equal to 0" in result.stderr


def test_the_app_signs_with_its_configured_secret_not_a_later_environment(monkeypatch):
    client = create_app({"warmup": "off", "secret": "from-config"}).test_client()
    monkeypatch.setenv("GRADSHEET_SECRET", "from-environment")
    resp = client.post("/v1/problem-sets", json={"seed": 3, "students": 1,
                                                 "problems": ["gate_gradient"]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    token = resp.get_json()["sheets"][0]["problems"][0]["token"]
    assert worksheets.grade(token, {}, secret="from-config")["max_score"] > 0
    with pytest.raises(worksheets.TokenError):
        worksheets.grade(token, {}, secret="from-environment")
