"""Deployment files, checked without Docker (which cannot run here): the compose file
against the compose-spec JSON schema, and the services, healthcheck, ports, nginx
upstream and Dockerfile lining up with each other and with the service."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent.parent
COMPOSE = ROOT / "docker-compose.yml"
NGINX = ROOT / "deploy" / "nginx.conf"
DOCKERFILE = ROOT / "Dockerfile"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def nginx_conf() -> str:
    return re.sub(r"#[^\n]*", "", NGINX.read_text())


@pytest.fixture(scope="module")
def dockerfile() -> str:
    # One logical line per instruction: join backslash continuations.
    return re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())


def test_compose_file_is_valid_against_the_compose_spec_schema():
    # check-jsonschema ships the compose-spec schema (vendor.compose-spec).
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(COMPOSE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_an_invalid_compose_file_is_refused_by_the_same_check(tmp_path):
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  api:\n    deploy:\n      replicas: two\n    ports: 8000\n")
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec",
         str(bad)], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0


def test_services_are_api_worker_redis_nginx_and_locust(compose):
    assert set(compose["services"]) == {"api", "worker", "redis", "nginx", "locust-master",
                                        "locust-worker"}


def test_api_replicas_enqueue_jobs_that_worker_replicas_make_on_a_shared_volume(compose):
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert worker["image"] == api["image"] and worker["command"] == ["gradsheet", "worker"]
    assert worker["deploy"]["replicas"] >= 2 and "ports" not in worker
    for name in ("GRADSHEET_JOBS_QUEUE_URL", "GRADSHEET_JOBS_DIR", "GRADSHEET_SECRET"):
        assert worker["environment"][name] == api["environment"][name], name
    assert worker["environment"]["GRADSHEET_JOBS_QUEUE_URL"].startswith("redis://redis:")
    # the api replicas only enqueue: no consumer beside their gunicorn
    assert api["environment"]["GRADSHEET_JOBS_EMBEDDED"] == "false"
    mount = f"jobs:{api['environment']['GRADSHEET_JOBS_DIR']}"
    assert mount in api["volumes"] and mount in worker["volumes"] and "jobs" in compose["volumes"]


def test_every_replica_counts_grading_limits_in_redis_behind_one_trusted_proxy(
        compose, nginx_conf):
    api, redis = compose["services"]["api"], compose["services"]["redis"]
    env = api["environment"]
    uri = re.fullmatch(r"redis://(\w+):(\d+)/\d+", env["GRADSHEET_RATELIMIT_STORAGE_URI"])
    assert uri and uri.group(1) == "redis" and [uri.group(2)] == [str(p) for p in redis["expose"]]
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "redis-cli" in redis["healthcheck"]["test"]
    # nginx appends the client's address to X-Forwarded-For: exactly one hop to trust
    assert "X-Forwarded-For $proxy_add_x_forwarded_for" in nginx_conf
    assert env["GRADSHEET_FORWARDED_HOPS"] == "1"
    # serve refuses to start without these; compose refuses to start without them too
    for name in ("GRADSHEET_SECRET", "GRADSHEET_INSTRUCTOR_TOKENS"):
        assert env[name].startswith("${" + name + ":?")


def api_port(compose) -> int:
    return int(compose["services"]["api"]["environment"]["GRADSHEET_PORT"])


def test_api_replicas_have_no_host_port_and_a_readyz_healthcheck(compose):
    api = compose["services"]["api"]
    port = api_port(compose)
    assert api["deploy"]["replicas"] >= 2
    assert "ports" not in api  # replicas cannot share a host port; nginx fronts them
    assert [str(port)] == [str(p) for p in api["expose"]]
    check = " ".join(api["healthcheck"]["test"])
    assert f"http://127.0.0.1:{port}/readyz" in check
    assert api["build"] == "."


def test_nginx_balances_least_conn_over_re_resolved_replicas(compose, nginx_conf):
    port = api_port(compose)
    upstream = re.search(r"upstream\s+(\w+)\s*\{(.*?)\}", nginx_conf, re.S)
    name, body = upstream.group(1), upstream.group(2)
    assert "least_conn;" in body
    assert re.search(rf"server\s+api:{port}\s+resolve\b", body)
    assert re.search(r"zone\s+\w+\s+\d+k;", body)  # `resolve` needs a shared zone
    assert re.search(r"resolver\s+127\.0\.0\.11\b", nginx_conf)
    assert f"proxy_pass http://{name};" in nginx_conf
    # nginx's own errors must be problem+json like the service's.
    assert "application/problem+json" in nginx_conf
    assert "client_max_body_size 16m;" in nginx_conf


def test_nginx_service_mounts_the_conf_publishes_its_listen_port_and_waits_for_health(
        compose, nginx_conf):
    nginx = compose["services"]["nginx"]
    mount = next(v for v in nginx["volumes"] if v.split(":")[1] == "/etc/nginx/nginx.conf")
    assert (ROOT / mount.split(":")[0]).resolve() == NGINX
    listen = int(re.search(r"listen\s+(\d+);", nginx_conf).group(1))
    host, published, target = nginx["ports"][0].split(":")
    assert host == "127.0.0.1" and int(target) == listen
    assert nginx["depends_on"]["api"]["condition"] == "service_healthy"
    assert "/nginx-health" in " ".join(nginx["healthcheck"]["test"])
    assert "location = /nginx-health" in nginx_conf


def test_locust_master_targets_nginx_and_workers_scale(compose, nginx_conf):
    listen = int(re.search(r"listen\s+(\d+);", nginx_conf).group(1))
    master = compose["services"]["locust-master"]
    worker = compose["services"]["locust-worker"]
    assert f"--host http://nginx:{listen}" in master["command"]
    assert "--master" in shlex.split(master["command"])
    args = shlex.split(worker["command"])
    assert "--worker" in args and args[args.index("--master-host") + 1] == "locust-master"
    assert worker["deploy"]["replicas"] >= 1
    for service in (master, worker):
        source, target = service["volumes"][0].split(":")[:2]
        assert (ROOT / source / "locustfile.py").is_file()
        assert f"{target}/locustfile.py" in service["command"]
        assert service["profiles"] == ["load"]


def test_dockerfile_warms_the_numba_cache_at_build_time_and_serves_the_api_port(
        compose, dockerfile):
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(
        line for line in dockerfile.splitlines() if line.startswith("ENV "))))
    assert env["NUMBA_CACHE_DIR"].startswith("/")
    run = " ".join(line for line in dockerfile.splitlines() if line.startswith("RUN "))
    assert "gradsheet warmup" in run
    assert run.index("pip install") < run.index("gradsheet warmup")
    assert f"EXPOSE {api_port(compose)}" in dockerfile
    assert "gradsheet serve" in dockerfile and "0.0.0.0" in dockerfile
    for copied in re.findall(r"^COPY\s+(.*?)\s+\S+$", dockerfile, re.M):
        for path in copied.split():
            assert (ROOT / path).exists() or path == "README.md", path
