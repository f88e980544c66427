"""Deployment files, checked without a Docker engine: hadolint on the Dockerfiles, the compose file's
structure, the proxy config."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO

HADOLINT = Path(sys.executable).parent / "hadolint"


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_hadolint(name: str) -> None:
    r = subprocess.run([str(HADOLINT), str(REPO / name)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr


def stages(name: str) -> list[str]:
    return re.split(r"(?m)^FROM ", (REPO / name).read_text())[1:]


@pytest.mark.parametrize("name", ["Dockerfile", "Dockerfile.gpu"])
def test_dockerfile_shape(name: str) -> None:
    text = (REPO / name).read_text()
    build, runtime = stages(name)
    assert " AS build" in build.splitlines()[0]  # multi-stage: build tools stay behind
    assert "COPY --from=build /opt/venv /opt/venv" in runtime
    assert "pip install --no-cache-dir ." in build and ".[" not in text  # no extras: no torch, no dev tools
    assert "COPY models/ /app/models/" in runtime and "ACTAS_MODEL_PATH=/app/models/" in runtime
    assert re.search(r"(?m)^USER 10001", runtime) and "HEALTHCHECK" in runtime
    assert "training/" not in text and "tests/" not in text


def test_gpu_dockerfile_uses_cuda_and_onnxruntime_gpu() -> None:
    text = (REPO / "Dockerfile.gpu").read_text()
    assert re.search(r"nvidia/cuda:12[.\d]*-cudnn-runtime", text)
    assert "pip uninstall -y onnxruntime" in text


def test_cpu_and_gpu_images_run_the_same_onnxruntime() -> None:
    """pyproject pins onnxruntime (the CPU image); the GPU image installs onnxruntime-gpu at that version,
    read from the installed package's metadata, and its build fails when the two differ."""
    pins = re.findall(r'"onnxruntime==([\d.]+)"', (REPO / "pyproject.toml").read_text())
    assert pins == ["1.31.1"]  # onnxruntime-gpu has no newer release
    text = (REPO / "Dockerfile.gpu").read_text()
    assert 'm.requires("actas-ocr")' in text and 'r.startswith("onnxruntime==")' in text
    assert 'pip install --no-cache-dir "onnxruntime-gpu==${ORT_VERSION}"' in text
    assert "sys.exit(onnxruntime.__version__ != '${ORT_VERSION}')" in text
    assert not re.search(r"onnxruntime(-gpu)?==\d", text)  # no second literal version to drift


def test_dockerignore_keeps_data_and_secrets_out() -> None:
    rules = (REPO / ".dockerignore").read_text().split()
    assert rules[rules.index("**") + 1 :].count("!models/") == 1 and "!.venv" not in rules


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return data


def test_compose_database(compose: dict[str, Any]) -> None:
    db = compose["services"]["db"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    volume = db["volumes"][0].split(":")
    assert volume[0] in compose["volumes"] and volume[1] == "/var/lib/postgresql/data"


def test_compose_api_waits_for_the_database(compose: dict[str, Any]) -> None:
    for name in ("api", "api-gpu"):
        api = compose["services"][name]
        assert api["depends_on"]["db"]["condition"] == "service_healthy"
        assert api["environment"]["ACTAS_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert "@db:5432/" in api["environment"]["ACTAS_DATABASE_URL"]
        assert "/ready" in " ".join(api["healthcheck"]["test"])
        assert "ports" not in api  # reached only through the proxy
    assert compose["services"]["api"]["build"]["dockerfile"] == "Dockerfile"
    assert compose["services"]["api"]["deploy"]["replicas"] >= 2


def test_compose_gpu_profile(compose: dict[str, Any]) -> None:
    gpu = compose["services"]["api-gpu"]
    assert gpu["profiles"] == ["gpu"] and gpu["build"]["dockerfile"] == "Dockerfile.gpu"
    device = gpu["deploy"]["resources"]["reservations"]["devices"][0]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    assert "api" in gpu["networks"]["default"]["aliases"]  # joins the same pool behind the proxy
    assert all("profiles" not in s for n, s in compose["services"].items() if n != "api-gpu")


def test_compose_one_port_in_front_of_the_replicas(compose: dict[str, Any]) -> None:
    proxy = compose["services"]["proxy"]
    assert proxy["depends_on"]["api"]["condition"] == "service_healthy"
    assert [p.split(":")[-1] for p in proxy["ports"]] == ["8080"]
    conf_host = proxy["volumes"][0].split(":")[0]
    conf = (REPO / conf_host).read_text()
    assert "listen 8080;" in conf and "http://api:8000" in conf and "resolver 127.0.0.11" in conf
    size = re.search(r"client_max_body_size (\d+)m;", conf)
    assert size and int(size.group(1)) * 2**20 > 20 * 2**20  # above the API's own default limit
