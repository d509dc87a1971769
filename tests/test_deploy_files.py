"""The Dockerfile and docker-compose.yml cannot run here (no Docker engine): check them by reading."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from service.config import ENV_VARS, Limits, Settings

ROOT = Path(__file__).resolve().parent.parent


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_redis_7_with_aof_on_a_named_volume() -> None:
    services = compose()["services"]
    redis = services["redis"]
    assert re.match(r"redis:7(\.|-|$)", redis["image"])
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    volume_name, mount = redis["volumes"][0].split(":")
    assert mount == "/data"
    assert volume_name in compose()["volumes"]
    assert "redis-cli" in redis["healthcheck"]["test"]


def test_compose_wires_the_service_to_redis_with_settings_the_config_module_reads() -> None:
    hone = compose()["services"]["hone"]
    env = {k: str(v) for k, v in hone["environment"].items()}
    assert set(env) <= ENV_VARS, set(env) - ENV_VARS
    settings = Settings.from_env(env)
    assert settings.redis_url is not None and settings.redis_url.startswith("redis://redis:6379")
    assert hone["depends_on"]["redis"]["condition"] == "service_healthy"
    port = settings.bind.rsplit(":", 1)[1]
    assert hone["expose"] == [port]
    assert f"127.0.0.1:{port}/readyz" in " ".join(hone["healthcheck"]["test"])


def test_compose_scales_replicas_behind_a_proxy() -> None:
    services = compose()["services"]
    hone, proxy = services["hone"], services["proxy"]
    assert hone["deploy"]["replicas"] >= 2
    assert "ports" not in hone  # only the proxy is published, so replicas can scale freely
    assert proxy["depends_on"]["hone"]["condition"] == "service_healthy"
    source, target = proxy["volumes"][0].split(":")[:2]
    nginx = (ROOT / source).read_text()
    assert target == "/etc/nginx/nginx.conf"
    port = Settings.from_env({k: str(v) for k, v in hone["environment"].items()}).bind.rsplit(":", 1)[1]
    assert f"server hone:{port} resolve;" in nginx
    listen = re.search(r"listen (\d+);", nginx)
    assert listen is not None and proxy["ports"] == [f"127.0.0.1:8000:{listen.group(1)}"]
    assert "client_max_body_size 1m;" in nginx and Limits().max_request_bytes == 1 << 20


def test_dockerfile_runs_gunicorn_from_the_app_factory_as_a_non_root_user() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim", dockerfile, re.M)
    users = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert users and users[-1] not in ("root", "0")
    assert '"gunicorn", "-c", "service/gunicorn_conf.py", "service.app:create_app()"' in dockerfile
    assert (ROOT / "service" / "gunicorn_conf.py").exists()
    assert "COPY requirements.txt" in dockerfile
    env_vars = set(re.findall(r"\b(HONE_[A-Z_]+)=", dockerfile))
    assert env_vars <= ENV_VARS
    assert Settings.from_env({"HONE_BIND": "0.0.0.0:8000"}).bind.endswith(":8000")
