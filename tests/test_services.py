"""The search against the real services of a scale-out: a PostgreSQL storage and an
MLflow tracking server backed by PostgreSQL, both started here on loopback.

- two local workers, one killed in the middle of a trial (`python -m pipelines.gridsearch`);
- the README's `mlflow run . -e gridsearch` command against both services;
- a coordinator (`coordinate_only=true`) with two `worker` entry points, as two machines
  would run them, one of their worker processes killed mid-trial;
- a password given inside the storage and tracking URLs never shows up in what is logged,
  written or printed.

Every size must complete exactly once in the storage and appear once as a FINISHED
nested run of the search's parent run on the server. The module's fixture stops the
server and PostgreSQL whatever happens.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mlflow
import optuna
import pytest
import yaml
from commands import (
    mlflow_run_command,
    module_command,
    study_named,
    subprocess_env,
    wait_for_running_trial,
)
from mlflow.entities import Run
from mlflow.tracking import MlflowClient
from optuna.trial import FrozenTrial, TrialState
from pypdf import PdfReader
from services import MlflowServer, Postgres, pg_bin_dir, start_mlflow_server, start_postgres

from benchmark import tracking

REPO = Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
SIZES = [2, 4, 8, 16]
# Enough epochs on digits for a trial to be killed after its second epoch, yet short.
KILL_EPOCHS = "12"
pytestmark = [pytest.mark.services, pytest.mark.slow]


def compose_default(text: str) -> str:
    """``${VAR:-default}`` in a compose value, resolved to its default."""
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def compose_allowed_hosts() -> str:
    """The Host headers the compose file's tracking server accepts by default."""
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    command = compose["services"]["mlflow"]["command"].split()
    return compose_default(command[command.index("--allowed-hosts") + 1])


@dataclass
class Services:
    pg: Postgres
    server: MlflowServer
    password: str

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a search process: the server as tracking URI and the
        database password for libpq (no URL carries it)."""
        return subprocess_env(self.server.uri, **({"PGPASSWORD": self.password} | extra))

    @property
    def storage(self) -> str:
        return self.pg.url("optuna")


@pytest.fixture(scope="module")
def services(tmp_path_factory) -> Iterator[Services]:
    if pg_bin_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL's binaries are missing; .ci/run installs them")
        pytest.skip("PostgreSQL's binaries (initdb, pg_ctl) are not installed")
    tmp = tmp_path_factory.mktemp("services")
    # unique and URL-safe, so that finding it anywhere means it leaked
    password = "pw" + secrets.token_hex(12)
    pg = start_postgres(password)
    server = None
    # this process reads the studies too, with the password from libpq's variable
    mp = pytest.MonkeyPatch()
    mp.setenv("PGPASSWORD", password)
    try:
        pg.execute((DOCKER / "postgres" / "initdb" / "10-databases.sql").read_text())
        env = dict(os.environ) | {"PGPASSWORD": password, "MLFLOW_DISABLE_TELEMETRY": "true"}
        server = start_mlflow_server(
            pg.url("mlflow", driver="postgresql+psycopg"),
            tmp / "artifacts",
            env,
            tmp / "mlflow-server.log",
            allowed_hosts=compose_allowed_hosts(),
        )
        yield Services(pg, server, password)
    finally:
        mp.undo()
        if server is not None:
            server.stop()
        pg.stop()


def _experiment_runs(uri: str, experiment: str) -> list[Run]:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r} on the server"
    return client.search_runs([exp.experiment_id], max_results=1000)


def _by_method(runs: list[Run], method: str) -> list[Run]:
    return [r for r in runs if r.data.tags.get("benchmark.method") == method]


def _without(env: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in env.items() if k != name}


def _start_search(services: Services, cwd: Path, name: str, **args: str) -> subprocess.Popen:
    """`python -m pipelines.gridsearch` on digits over SIZES for KILL_EPOCHS epochs, into
    the study and the experiment ``name``, with a 1 s heartbeat and a 4 s grace period (a
    killed worker's trial is retried soon); ``args`` adds parameters. Its stdout and
    stderr come together in ``stdout``."""
    params = {
        "dataset": "digits",
        "latent_sizes": ",".join(map(str, SIZES)),
        "epochs": KILL_EPOCHS,
        "storage": services.storage,
        "study_name": name,
        "heartbeat_interval": "1",
        "grace_period": "4",
    }
    return subprocess.Popen(
        module_command("pipelines.gridsearch", params | args),
        cwd=cwd,
        env=services.env(MLFLOW_EXPERIMENT_NAME=name),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _assert_exactly_once(study: optuna.Study, runs: list[Run], parent: Run) -> None:
    """Each size COMPLETE once in the storage and FINISHED once on the server, nested
    under ``parent``, the two pointing at each other."""
    complete = Counter(t.params["latent_dim"] for t in study.trials if t.state.name == "COMPLETE")
    assert complete == dict.fromkeys(SIZES, 1), complete
    fixed = _by_method(runs, "fixed")
    finished = [r for r in fixed if r.info.status == "FINISHED"]
    assert Counter(int(r.data.params["fixed_latent_dim"]) for r in finished) == dict.fromkeys(
        SIZES, 1
    )
    assert {r.data.tags["mlflow.parentRunId"] for r in fixed} == {parent.info.run_id}
    by_id = {r.info.run_id: r for r in finished}
    for t in study.trials:
        if t.state == TrialState.COMPLETE:
            run = by_id[t.user_attrs["mlflow_run_id"]]
            assert run.data.tags["benchmark.trial_number"] == str(t.number)
    assert parent.info.status == "FINISHED"
    assert parent.data.metrics["best_latent_dim"] in SIZES
    assert not [r for r in runs if r.info.status == "RUNNING"]


def _assert_killed_trial_retried(study: optuna.Study, victim: FrozenTrial, uri: str) -> None:
    killed = study.trials[victim.number]
    assert killed.state == TrialState.FAIL
    retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == victim.number]
    assert len(retries) == 1 and retries[0].state == TrialState.COMPLETE
    assert retries[0].params == killed.params
    # killed after two epochs, so with a checkpoint: the retry continued the killed
    # trial's run in place, every epoch logged, and finished it
    run_id = killed.user_attrs["mlflow_run_id"]
    assert retries[0].user_attrs["mlflow_run_id"] == run_id
    client = MlflowClient(uri)
    resumed = client.get_run(run_id)
    assert resumed.info.status == "FINISHED"
    assert tracking.FAILURE_TAG not in resumed.data.tags
    steps = {m.step for m in client.get_metric_history(run_id, "latent_dim")}
    assert steps == set(range(1, int(resumed.data.params["config.epochs"]) + 1))


def test_compose_tracking_server_accepts_the_compose_host_only(services):
    # the server runs with compose.yaml's --allowed-hosts: the workers' Host header
    # (http://mlflow:5000) passes, a foreign one is refused
    assert services.server.status("mlflow:5000") == 200
    assert services.server.status(f"127.0.0.1:{services.server.port}") == 200
    assert services.server.status("evil.example.com") == 403


def _kill_a_worker_and_finish(
    services: Services, name: str, procs: list[subprocess.Popen]
) -> FrozenTrial:
    """SIGKILL the worker process of the first trial of study ``name`` that has trained
    two epochs, let ``procs`` finish (each must exit 0 without printing the password)
    and return the killed trial."""
    try:
        victim = wait_for_running_trial(services.storage, name, spawned_only=True)
        os.kill(int(victim.user_attrs["worker_pid"]), signal.SIGKILL)
        outs = [p.communicate(timeout=900)[0] for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for p, out in zip(procs, outs, strict=True):
        assert p.returncode == 0, out[-3000:]
        assert services.password not in out
    return victim


def _assert_recovered(services: Services, name: str, victim: FrozenTrial) -> tuple[list, Run]:
    """Every size done exactly once and the killed trial retried; the experiment's runs
    and its search parent run."""
    study = optuna.load_study(study_name=name, storage=services.storage)
    runs = _experiment_runs(services.server.uri, name)
    (parent,) = _by_method(runs, "gridsearch")
    _assert_exactly_once(study, runs, parent)
    _assert_killed_trial_retried(study, victim, services.server.uri)
    return runs, parent


def test_two_local_workers_one_killed_each_size_once(services, tmp_path):
    name = "kill-local"
    proc = _start_search(services, tmp_path, name, n_workers="2")
    victim = _kill_a_worker_and_finish(services, name, [proc])
    _, parent = _assert_recovered(services, name, victim)
    assert parent.data.metrics["n_worker_crashes"] == 1
    assert parent.data.params["search.storage"] == services.storage


def test_mlflow_run_gridsearch_against_postgres_and_server(services, tmp_path):
    """The issue's command: `mlflow run . -e gridsearch ... -P storage=$PG/optuna` with
    MLFLOW_TRACKING_URI at the PostgreSQL-backed server."""
    storage = services.pg.url("optuna_done_when")
    services.pg.execute("CREATE DATABASE optuna_done_when")
    cmd = mlflow_run_command(
        "gridsearch",
        "done-when",
        {
            "dataset": "digits",
            "latent_sizes": ",".join(map(str, SIZES)),
            "epochs": "3",
            "n_workers": "2",
            "storage": storage,
        },
    )
    proc = subprocess.run(
        cmd, cwd=tmp_path, env=services.env(), capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    study = optuna.load_study(
        study_name=study_named(storage, "digits-quick-seed1-grid-"), storage=storage
    )
    # Each size trained once; any other trial lost a race between the two workers' last
    # asks: PRUNED as surplus without training (no run), as docs/methods.md describes.
    for t in study.trials:
        if t.state != TrialState.COMPLETE:
            assert t.state == TrialState.PRUNED and t.user_attrs.get("surplus") is True, t
            assert "mlflow_run_id" not in t.user_attrs, t
    runs = _experiment_runs(services.server.uri, "done-when")
    (parent,) = _by_method(runs, "gridsearch")
    _assert_exactly_once(study, runs, parent)
    assert len(_by_method(runs, "fixed")) == len(SIZES)
    # what `mlflow run` logged is the password-free URL (libpq read PGPASSWORD)
    assert parent.data.params["storage"] == storage
    # artifacts went through the server's proxy into its artifact store
    client = MlflowClient(services.server.uri)
    assert "per_size.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}


def test_coordinator_and_two_remote_workers_one_killed(services, tmp_path):
    """A coordinator that trains nothing and two `worker` entry points (as two machines
    would run them: one through `mlflow run` with storage=env:NAME, one through python
    with PGPASSWORD); one worker process is killed in the middle of a trial."""
    name = "remote-workers"
    coordinator = _start_search(services, tmp_path, name, coordinate_only="true")
    with_password = services.pg.url("optuna", password=True)
    workers = [
        subprocess.Popen(
            mlflow_run_command(
                "worker",
                name,
                {
                    "study_name": name,
                    "storage": "env:OPTUNA_STORAGE",
                    # an empty value, as compose passes ${DEVICE:-}: the search's device
                    "device": "",
                },
            ),
            cwd=tmp_path,
            env=_without(services.env(OPTUNA_STORAGE=with_password), "PGPASSWORD"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
        subprocess.Popen(
            module_command("pipelines.worker", {"study_name": name, "storage": services.storage}),
            cwd=tmp_path,
            env=services.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ),
    ]
    victim = _kill_a_worker_and_finish(services, name, [coordinator, *workers])
    runs, parent = _assert_recovered(services, name, victim)
    study = optuna.load_study(study_name=name, storage=services.storage)
    assert parent.data.params["search.coordinate_only"] == "true"
    assert parent.data.metrics["n_worker_crashes"] == 0  # the coordinator ran none
    assert parent.data.metrics["n_trials_failed"] == 1

    worker_runs = _by_method(runs, "worker")
    assert len(worker_runs) == 2
    assert {r.info.status for r in worker_runs} == {"FINISHED"}
    assert {r.data.tags["benchmark.search_run_id"] for r in worker_runs} == {parent.info.run_id}
    assert sum(r.data.metrics["n_trials_complete"] for r in worker_runs) == len(SIZES)
    assert sum(r.data.metrics["n_worker_crashes"] for r in worker_runs) == 1
    # each trial names the worker run that trained it
    ids = {r.info.run_id for r in worker_runs}
    for t in study.trials:
        assert t.user_attrs["worker_run_id"] in ids
    via_mlflow_run = [r for r in worker_runs if "storage" in r.data.params]
    assert [r.data.params["storage"] for r in via_mlflow_run] == ["env:OPTUNA_STORAGE"]


def _all_logged_text(uri: str, runs: list[Run], folder: Path) -> str:
    """Every param and tag value and every artifact's bytes (as text) of ``runs``."""
    client = MlflowClient(uri)
    chunks = []
    for run in runs:
        chunks += [f"{k}={v}" for k, v in run.data.params.items()]
        chunks += [f"{k}={v}" for k, v in run.data.tags.items()]
        local = Path(
            mlflow.artifacts.download_artifacts(
                run_id=run.info.run_id, dst_path=str(folder / run.info.run_id), tracking_uri=uri
            )
        )
        for path in local.rglob("*"):
            if path.is_file():
                chunks.append(path.read_bytes().decode("latin-1"))
        assert client.get_run(run.info.run_id).info.status == "FINISHED"
    return "\n".join(chunks)


def test_passwords_in_urls_never_logged_written_or_printed(services, tmp_path, capfd):
    """The benchmark entry point in-process (adaptive run, grid search, report) with a
    password in the Optuna storage URL and in the tracking URI."""
    from pipelines import benchmark as benchmark_entry
    from pipelines.cli import run_entry_point

    services.pg.execute("CREATE DATABASE optuna_secret")
    storage = services.pg.url("optuna_secret", password=True)
    uri = services.server.uri.replace("http://", f"http://{'bench'}:{services.password}@")
    mp = pytest.MonkeyPatch()
    previous = mlflow.get_tracking_uri()
    try:
        mp.chdir(tmp_path)
        mp.setenv("MLFLOW_TRACKING_URI", uri)
        mp.setenv("MLFLOW_EXPERIMENT_NAME", "secrets")
        mp.setenv("SECRET_STORAGE", storage)
        mp.delenv("MLFLOW_RUN_ID", raising=False)
        mp.delenv("PGPASSWORD", raising=False)
        mlflow.set_tracking_uri(uri)
        code = run_entry_point(
            benchmark_entry.main,
            [
                "--dataset",
                "digits",
                "--epochs",
                "2",
                "--latent_sizes",
                "2,4",
                # a password in a parameter is refused: the URL comes from the environment
                "--storage",
                "env:SECRET_STORAGE",
                "--output",
                str(tmp_path / "report.pdf"),
            ],
        )
    finally:
        while mlflow.active_run():
            mlflow.end_run()
        mlflow.set_tracking_uri(previous)
        mp.undo()
    out, err = capfd.readouterr()
    assert code == 0, err[-3000:]
    assert services.password not in out + err
    # the masked form is what was printed
    assert f"http://bench:***@127.0.0.1:{services.server.port}" in out

    runs = _experiment_runs(services.server.uri, "secrets")
    assert {r.data.tags["benchmark.method"] for r in runs} == {
        "benchmark",
        "adaptive",
        "gridsearch",
        "fixed",
    }
    logged = _all_logged_text(services.server.uri, runs, tmp_path / "artifacts")
    assert services.password not in logged
    pages = PdfReader(tmp_path / "report.pdf").pages
    assert pages
    assert services.password not in "\n".join(page.extract_text() for page in pages)
    from benchmark.search.attrs import study_attrs

    study = optuna.load_study(
        study_name=study_named(storage, "digits-quick-seed1-grid-"), storage=storage
    )
    assert services.password not in repr(study.user_attrs)
    # the search's shared records are system attributes (benchmark.search.attrs)
    shared = study_attrs(study)
    assert services.password not in repr(shared)
    assert "***" in shared["tracking_uri"]
