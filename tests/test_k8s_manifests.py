"""docker/k8s/ checked without a cluster: every manifest is valid against the Kubernetes
schemas (kubernetes-validate ships them), each container that runs the project runs an
entry point of MLproject with parameters it has, the images and ports are the ones
docker/ builds and publishes, credentials come from the Secret, and the workers are
the Job of Optuna's Kubernetes example (parallelism, one GPU each)."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "docker" / "k8s"
MANIFESTS = sorted(K8S.glob("*.yaml"))
# the schema version checked against (the newest kubernetes-validate ships)
KUBERNETES = kubernetes_validate.latest_version()


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _all() -> list[dict]:
    return [d for path in MANIFESTS for d in _docs(path)]


def _containers() -> list[tuple[str, dict]]:
    out = []
    for doc in _all():
        spec = doc.get("spec", {})
        pod = spec.get("template", {}).get("spec", {})
        out += [(doc["metadata"]["name"], c) for c in pod.get("containers", [])]
    return out


def _compose() -> dict:
    return yaml.safe_load((REPO / "docker" / "compose.yaml").read_text())


def _mlproject() -> dict:
    return yaml.safe_load((REPO / "MLproject").read_text())["entry_points"]


def test_the_manifests_exist():
    names = {p.name for p in MANIFESTS}
    assert {"postgres.yaml", "mlflow.yaml", "study-job.yaml", "workers-job.yaml"} <= names


@pytest.mark.parametrize("path", MANIFESTS, ids=lambda p: p.name)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(path):
    for doc in _docs(path):
        # strict: an unknown or misspelt field is an error, not ignored
        kubernetes_validate.validate(doc, KUBERNETES, strict=True)


def test_a_misspelt_field_is_caught_by_the_validation():
    (job,) = [d for d in _docs(K8S / "workers-job.yaml") if d["kind"] == "Job"]
    job["spec"]["paralelism"] = 4
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(job, KUBERNETES, strict=True)


def test_project_containers_run_entry_points_with_their_parameters():
    runs = 0
    entry_points = _mlproject()
    for name, container in _containers():
        command = container.get("command", [])
        if command[:2] != ["mlflow", "run"]:
            continue
        runs += 1
        assert command[2] == "." and command[command.index("--env-manager") + 1] == "local"
        entry = command[command.index("-e") + 1]
        assert entry in entry_points, (name, entry)
        params = dict(
            command[i + 1].split("=", 1) for i, word in enumerate(command) if word == "-P"
        )
        assert set(params) <= set(entry_points[entry]["parameters"]), (name, params)
        # the storage URL (with its password) only ever through the environment
        assert params["storage"] == "env:OPTUNA_STORAGE", name
        env = {e["name"]: e for e in container["env"]}
        assert env["OPTUNA_STORAGE"]["value"].startswith("postgresql://bench:$(PGPASSWORD)@")
        assert env["PGPASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "bench-db"
        assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow:5000"
    assert runs == 2  # the study's parent and the workers


def test_the_study_and_its_workers_agree():
    by_name = {name: c for name, c in _containers()}

    def params(name: str) -> dict:
        cmd = by_name[name]["command"]
        return dict(cmd[i + 1].split("=", 1) for i, w in enumerate(cmd) if w == "-P")

    study, worker = params("grid-study"), params("grid-workers")
    assert study["coordinate_only"] == "true"
    assert worker["study_name"] == study["study_name"]
    (job,) = [d for d in _docs(K8S / "workers-job.yaml") if d["kind"] == "Job"]
    assert job["spec"]["parallelism"] >= 2 and "completions" not in job["spec"]
    limits = by_name["grid-workers"]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == 1 and worker["device"] == "cuda"


def test_images_and_ports_are_the_ones_docker_builds_and_serves():
    compose = _compose()["services"]
    images = {s["image"] for s in compose.values() if "image" in s}
    for name, container in _containers():
        assert container["image"] in images, (name, container["image"])
    by_name = {name: c for name, c in _containers()}
    assert by_name["mlflow"]["image"] == compose["mlflow"]["image"]
    assert by_name["grid-workers"]["image"] == compose["worker-gpu"]["image"]
    assert by_name["postgres"]["image"] == compose["postgres"]["image"]
    ports = {
        d["metadata"]["name"]: d["spec"]["ports"][0]["port"]
        for d in _all()
        if d["kind"] == "Service"
    }
    assert ports == {"postgres": 5432, "mlflow": 5000}
    assert "--port 5000" in compose["mlflow"]["command"]
    server = by_name["mlflow"]["command"]
    assert server[server.index("--port") + 1] == "5000"


def test_no_password_in_any_manifest():
    for path in MANIFESTS:
        text = path.read_text()
        # a URL's password is only ever a reference the pod expands, $(PGPASSWORD)
        assert not re.search(r"://[^/@\s:]+:(?!\$\(PGPASSWORD\)@)[^@\s]+@", text), path
        assert "stringData" not in text and "kind: Secret" not in text, path
