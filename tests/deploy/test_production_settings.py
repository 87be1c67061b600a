"""The deployment files agree with the settings and with each other (case 37).

telephony_site/tests/test_deploy.py covers ``check --deploy`` and the hardened
settings themselves; these tests cover what the files under deploy/ add.
"""

from __future__ import annotations

import json
import re
import secrets
import shlex
from importlib.metadata import version
from pathlib import Path

import pytest

from telephony_site.tests.test_deploy import production, run_manage

ROOT = Path(__file__).resolve().parents[2]
DAPHNE_UNIT = ROOT / "deploy" / "systemd" / "telephony-daphne@.service"
WORKER_UNIT = ROOT / "deploy" / "systemd" / "telephony-ami-worker.service"
ENV_EXAMPLE = ROOT / "deploy" / "systemd" / "env.example"
NGINX = ROOT / "deploy" / "nginx" / "telephony-bridge.conf"


def exec_start(unit: Path) -> list[str]:
    text = unit.read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(line.removeprefix("ExecStart="))


def option(args: list[str], name: str) -> float:
    return float(args[args.index(name) + 1])


def layer_config(**variables: str) -> dict:
    code = (
        "import json; from django.conf import settings as s; "
        "print(json.dumps(s.CHANNEL_LAYERS['default'].get('CONFIG', {})))"
    )
    result = run_manage("shell", "-c", code, **variables)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {key: value for key, value in pairs}


@pytest.fixture(scope="module")
def production_layer() -> dict:
    return layer_config(**production())


def test_the_socket_lifetime_of_a_node_is_finite_and_within_group_expiry(production_layer):
    args = exec_start(DAPHNE_UNIT)
    websocket_timeout = option(args, "--websocket_timeout")
    # A socket that outlives its group membership would silently stop getting events.
    assert 0 < websocket_timeout <= production_layer["group_expiry"]


def test_a_dead_browser_is_dropped_before_the_proxy_cuts_an_idle_socket():
    args = exec_start(DAPHNE_UNIT)
    read_timeouts = [int(value) for value in re.findall(r"proxy_read_timeout\s+(\d+)s;", NGINX.read_text())]
    assert read_timeouts
    # daphne pings an idle socket before nginx would give up on it, and drops a silent one soon after.
    assert option(args, "--ping-interval") < min(read_timeouts)
    assert option(args, "--ping-interval") + option(args, "--ping-timeout") <= 60


def test_the_units_run_the_site_and_the_worker():
    daphne = exec_start(DAPHNE_UNIT)
    assert daphne[-1] == "telephony_site.asgi:application"
    assert daphne[daphne.index("--bind") + 1] == "127.0.0.1"  # only nginx reaches the nodes
    assert "--proxy-headers" in daphne
    worker = exec_start(WORKER_UNIT)
    assert worker[-2:] == ["manage.py", "ami_worker"]
    for unit in (DAPHNE_UNIT, WORKER_UNIT):
        text = unit.read_text()
        assert "KillSignal=SIGTERM" in text  # both shut down cleanly on SIGTERM
        assert "EnvironmentFile=/etc/telephony-bridge/env" in text
    assert (ROOT / "connector" / "management" / "commands" / "ami_worker.py").exists()


def test_nginx_balances_without_stickiness_and_sets_the_forwarded_scheme():
    text = NGINX.read_text()
    upstream = re.search(r"upstream telephony_daphne \{(.*?)\}", text, re.DOTALL).group(1)
    ports = re.findall(r"server 127\.0\.0\.1:(\d+)", upstream)
    assert len(ports) >= 2
    assert not re.search(r"\b(ip_hash|hash|sticky)\b", upstream)
    assert re.search(r"listen 2014 ssl;", text) and re.search(r"listen 2013;", text)
    # settings.SECURE_PROXY_SSL_HEADER trusts X-Forwarded-Proto: nginx must overwrite it, never pass the client's.
    assert "$http_x_forwarded_proto" not in text
    assert "proxy_set_header X-Forwarded-Proto https;" in text
    assert text.count("proxy_set_header Upgrade $http_upgrade;") == 2


def test_the_example_environment_file_passes_check_deploy_once_its_keys_are_filled_in():
    variables = env_file(ENV_EXAMPLE)
    assert set(production()) <= set(variables), set(production()) - set(variables)
    # No usable key is shipped: a copy used as it is cannot start.
    assert variables["DJANGO_SECRET_KEY"] == variables["CHANNEL_LAYER_ENCRYPTION_KEY"] == ""
    unfilled = run_manage("check", **variables)
    assert unfilled.returncode != 0 and "DJANGO_SECRET_KEY" in unfilled.stderr
    variables.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(60), CHANNEL_LAYER_ENCRYPTION_KEY=secrets.token_urlsafe(32)
    )
    result = run_manage("check", "--deploy", "--fail-level", "WARNING", **variables)
    assert result.returncode == 0, result.stdout + result.stderr
    assert variables["ASTERISK_SECRET"] not in result.stdout + result.stderr


def test_the_encryption_key_reaches_the_layer_only_when_set(production_layer):
    key = secrets.token_urlsafe(32)
    assert layer_config(**production(CHANNEL_LAYER_ENCRYPTION_KEY=key))["symmetric_encryption_keys"] == [key]
    without = production()
    del without["CHANNEL_LAYER_ENCRYPTION_KEY"]
    assert "symmetric_encryption_keys" not in layer_config(**without)


def test_the_installed_daphne_channels_and_layer_are_the_pinned_ones():
    pins = dict(
        line.split("==", 1)
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    )
    for package in ("daphne", "channels", "channels-redis", "Twisted", "cryptography"):
        assert version(package) == pins[package], package


def test_the_guide_documents_every_variable_of_the_example_and_names_only_real_ones():
    guide = (ROOT / "docs" / "deployment.md").read_text()
    # settings.py reads every variable but the ASTERISK_* ones, which configuration.md lists.
    reference = (ROOT / "telephony_site" / "settings.py").read_text() + (ROOT / "docs" / "configuration.md").read_text()
    for name in env_file(ENV_EXAMPLE):
        assert f"`{name}`" in guide, name
    named = set(re.findall(r"`((?:DJANGO|ASTERISK|ORIGINATE|WS|CHANNEL_LAYER|REDIS|DATABASE|LOG)_[A-Z_]+)`", guide))
    assert named
    for name in named:
        assert name in reference, f"{name} is not a setting"
