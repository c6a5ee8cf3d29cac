"""docker/ checked statically (Docker cannot run here): the compose file parses and has
the services, volumes, ports and commands that docs/scaling.md describes; the images
install the project the way the README does; no password is written into any file.

What runs for real is tested in tests/test_services.py: the same database init SQL,
the tracking server with the compose file's --allowed-hosts, and the same entry points
and parameters against PostgreSQL and an MLflow server.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
DOCS = REPO / "docs" / "scaling.md"
STORAGE = "postgresql://bench@postgres:5432/optuna"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def resolve_defaults(text: str) -> str:
    """Compose interpolation with nothing set: ``${VAR:-default}`` becomes the default."""
    assert "${" not in re.sub(r"\$\{[A-Z_]+(:-[^}]*|:\?[^}]*)\}", "", text), text
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def _mlproject_parameters(entry_point: str) -> set[str]:
    mlproject = yaml.safe_load((REPO / "MLproject").read_text())
    return set(mlproject["entry_points"][entry_point]["parameters"])


def _mlflow_run(command: str) -> tuple[str, dict[str, str]]:
    """The entry point and -P parameters of an `mlflow run . -e NAME ...` command."""
    words = shlex.split(resolve_defaults(command))
    assert words[:3] == ["mlflow", "run", "."], words
    assert words[words.index("--env-manager") + 1] == "local"
    entry = words[words.index("-e") + 1]
    params = {}
    for i, word in enumerate(words):
        if word == "-P":
            name, sep, value = words[i + 1].partition("=")
            assert sep, words[i + 1]
            params[name] = value
    return entry, params


def _dockerfile(kind: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = (DOCKER / f"Dockerfile.{kind}").read_text()
    logical = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in logical.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            instruction, _, args = line.partition(" ")
            out.append((instruction.upper(), args.strip()))
    return out


def _readme_install() -> str:
    """The README's install command of the project (`pip install -e ".[extras]"`)."""
    found = re.findall(r'pip install -e "\.\[[a-z,]+\]"', (REPO / "README.md").read_text())
    assert found, "the README has no `pip install -e` command"
    return found[0]


def test_compose_file_parses_with_the_documented_services_and_volumes():
    compose = _compose()
    assert set(compose["services"]) == {"postgres", "mlflow", "coordinator", "worker", "worker-gpu"}
    assert set(compose["volumes"]) == {"pgdata", "mlartifacts"}
    docs = DOCS.read_text()
    for name in [*compose["services"], *compose["volumes"]]:
        assert f"`{name}`" in docs, f"docs/scaling.md does not describe {name!r}"


def test_database_is_not_published_and_keeps_its_data_in_a_volume():
    pg = _compose()["services"]["postgres"]
    assert "ports" not in pg
    assert "network_mode" not in pg
    assert "pgdata:/var/lib/postgresql/data" in pg["volumes"]
    assert "./postgres/initdb:/docker-entrypoint-initdb.d:ro" in pg["volumes"]
    sql = (DOCKER / "postgres" / "initdb" / "10-databases.sql").read_text()
    assert "CREATE DATABASE optuna;" in sql
    assert "CREATE DATABASE mlflow;" in sql
    assert pg["healthcheck"]["test"]
    # the password comes from the environment (docker/.env), never from the file
    assert pg["environment"]["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


def test_tracking_server_on_postgres_with_an_artifact_volume_bound_to_localhost():
    mlflow = _compose()["services"]["mlflow"]
    words = shlex.split(resolve_defaults(mlflow["command"]))
    assert words[:2] == ["mlflow", "server"]

    def option(name: str) -> str:
        return words[words.index(name) + 1]

    assert option("--backend-store-uri") == "postgresql+psycopg://bench@postgres:5432/mlflow"
    assert "--serve-artifacts" in words
    assert option("--artifacts-destination") == "/mlartifacts"
    assert "mlartifacts:/mlartifacts" in mlflow["volumes"]
    # inside the container it listens on all interfaces; the host publishes it on
    # loopback unless MLFLOW_BIND says otherwise
    assert option("--host") == "0.0.0.0"
    assert mlflow["ports"] == ["${MLFLOW_BIND:-127.0.0.1:5000}:5000"]
    assert resolve_defaults(mlflow["ports"][0]) == "127.0.0.1:5000:5000"
    # workers reach it as http://mlflow:5000: that Host header must be allowed
    assert "mlflow:5000" in option("--allowed-hosts").split(",")
    assert mlflow["environment"]["PGPASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert mlflow["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert mlflow["healthcheck"]["test"]


@pytest.mark.parametrize(
    ("service", "entry_point"),
    [("coordinator", "gridsearch"), ("worker", "worker"), ("worker-gpu", "worker")],
)
def test_search_services_run_existing_entry_points_against_the_shared_services(
    service, entry_point
):
    spec = _compose()["services"][service]
    entry, params = _mlflow_run(spec["command"])
    assert entry == entry_point
    assert set(params) <= _mlproject_parameters(entry_point)
    assert params["storage"] == STORAGE
    assert params["study_name"] == "scale-out"
    env = spec["environment"]
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["PGPASSWORD"].startswith("${POSTGRES_PASSWORD:?")
    assert spec["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert spec["depends_on"]["mlflow"]["condition"] == "service_healthy"
    # `--scale worker=N` needs services without fixed names or host ports
    assert "container_name" not in spec
    assert "ports" not in spec
    # each container keeps its own feature-extractor cache (see compose.yaml)
    assert "volumes" not in spec


def test_coordinator_trains_nothing_and_workers_follow_its_study():
    compose = _compose()["services"]
    _, coordinator = _mlflow_run(compose["coordinator"]["command"])
    _, worker = _mlflow_run(compose["worker"]["command"])
    assert coordinator["coordinate_only"] == "true"
    assert worker["study_name"] == coordinator["study_name"]
    assert worker["storage"] == coordinator["storage"]
    gpu = compose["worker-gpu"]
    assert gpu["profiles"] == ["gpu"]
    assert gpu["build"]["dockerfile"] == "docker/Dockerfile.cuda"
    assert gpu["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"


def test_no_password_in_any_docker_file():
    for path in DOCKER.rglob("*"):
        if path.is_file():
            text = path.read_text()
            # a URL with a password, or a password variable given a value
            # (a reference a Kubernetes pod expands, $(PGPASSWORD), is not one)
            assert not re.search(r"://[^/@\s:]+:(?!\$\(PGPASSWORD\)@)[^@\s]+@", text), path
            assert not re.search(r"^POSTGRES_PASSWORD=\S", text, re.M), path


@pytest.mark.parametrize("kind", ["cpu", "cuda"])
def test_images_install_the_project_as_the_readme_does(kind):
    steps = _dockerfile(kind)
    assert steps[0] == ("FROM", "python:3.11-slim")
    runs = [args for instruction, args in steps if instruction == "RUN"]
    # torch and torchvision at the project's pins, before the project
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    torch_pins = [p for p in pins if p.startswith(("torch==", "torchvision=="))]
    assert len(torch_pins) == 2
    torch_step = next(i for i, r in enumerate(runs) if "torch==" in r)
    for pin in torch_pins:
        assert pin in runs[torch_step].split()
    if kind == "cpu":
        assert "--index-url https://download.pytorch.org/whl/cpu" in runs[torch_step]
    # the README's command, with the postgres extra instead of the test one
    readme = _readme_install()
    install = 'pip install -e ".[postgres]"'
    assert re.sub(r"\[[a-z,]+\]", "[postgres]", readme) == install
    # the CUDA image adds NVML (the gpu extra), without which no run logs gpu_time_s
    image_install = 'pip install -e ".[postgres,gpu]"' if kind == "cuda" else install
    project_step = runs.index(image_install)
    assert project_step > torch_step
    extras = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    # the driver SQLAlchemy picks for `postgresql://` (psycopg 3 since SQLAlchemy 2.1)
    assert any(dep.startswith("psycopg[binary]") for dep in extras["postgres"])
    assert any(dep.startswith("nvidia-ml-py") for dep in extras["gpu"])
    copied = " ".join(args for instruction, args in steps if instruction == "COPY")
    for needed in ("pyproject.toml", "README.md", "MLproject", "benchmark", "pipelines"):
        assert needed in copied
    assert steps[-1][0] == "USER" and steps[-1][1] != "root"
    assert install in DOCS.read_text()


@pytest.mark.parametrize("kind", ["cpu", "cuda"])
def test_build_context_is_limited_to_the_package(kind):
    ignore = (DOCKER / f"Dockerfile.{kind}.dockerignore").read_text().split()
    star = ignore.index("*")  # everything out, then the package back in (order matters)
    for kept in ("!pyproject.toml", "!README.md", "!MLproject", "!benchmark/", "!pipelines/"):
        assert kept in ignore and ignore.index(kept) > star, kept


def test_docs_describe_the_compose_commands_that_exist():
    docs = DOCS.read_text()
    compose = _compose()
    commands = re.findall(r"docker compose -f docker/compose\.yaml[^\n`]*", docs)
    scaled = [s for command in commands for s in re.findall(r"--scale ([a-z-]+)=", command)]
    assert scaled, "the docs show no `--scale` command"
    for service in scaled:
        assert service in compose["services"], service
    # Kubernetes is described but marked as not tested here
    assert re.search(r"Kubernetes.*not tested here", docs, re.S | re.I)
