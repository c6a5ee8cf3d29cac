"""A sweep of bad inputs across the entry points: each gets one clear line on stderr
naming what is wrong, a non-zero exit, and leaves no run RUNNING (nothing half done)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from dataset_files import (
    grey_image,
    write_eurosat,
    write_image_folder,
    write_mnist_idx,
    write_npz,
    write_sprites,
)
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from PIL import Image

from pipelines import adaptive, benchmark, fixed, gridsearch, report, worker
from pipelines.cli import run_entry_point

DIGITS = ["--dataset", "digits", "--epochs", "1"]

CASES = [
    # datasets and folders
    (adaptive, ["--dataset", "nope"], "unknown dataset 'nope'"),
    (adaptive, ["--dataset", "mnist"], "set data_dir"),
    (adaptive, ["--dataset", "mnist", "--data_dir", "/nonexistent/x"], "does not exist"),
    (adaptive, ["--dataset", "mnist", "--data_dir", "{tmp}"], "missing {tmp}/MNIST/raw/"),
    (adaptive, ["--dataset", "eurosat", "--data_dir", "{tmp}"], "eurosat"),
    (adaptive, ["--dataset", "sprites", "--data_dir", "{tmp}"], "sprites"),
    (adaptive, ["--dataset", "digits", "--download", "true"], "nothing to download"),
    # numbers
    (adaptive, [*DIGITS[:2], "--epochs", "0"], "epochs=0 is too small"),
    (adaptive, [*DIGITS[:2], "--epochs", "ten"], "epochs"),
    (adaptive, [*DIGITS, "--seed", "-1"], "seed=-1 is out of range"),
    (adaptive, [*DIGITS, "--fid_samples", "1"], "fid_samples=1 is too small"),
    (adaptive, [*DIGITS, "--amp", "maybe"], "amp='maybe' is not a boolean"),
    # sizes
    (adaptive, [*DIGITS, "--initial_latent_dim", "1"], "initial_latent_dim=1 is too small"),
    (adaptive, [*DIGITS, "--initial_latent_dim", "1000000000"], "is too large; at most"),
    (fixed, DIGITS, "latent_dim is required"),
    (fixed, [*DIGITS, "--latent_dim", "4,8"], "must be one integer"),
    (fixed, [*DIGITS, "--latent_dim", "0"], "latent_dim"),
    (fixed, [*DIGITS, "--latent_dim", "100000"], "latent_dim=100000 is too large"),
    (gridsearch, [*DIGITS, "--latent_sizes", "4,,x"], "malformed"),
    (gridsearch, [*DIGITS, "--latent_sizes", "4,4"], "4"),
    # presets, choices, devices
    (adaptive, [*DIGITS, "--preset", "nope"], "preset"),
    (adaptive, [*DIGITS, "--prune_order", "random"], "unknown prune_order"),
    (adaptive, [*DIGITS, "--posterior", "x"], "unknown posterior"),
    (adaptive, [*DIGITS, "--fid_backend", "clip"], "unknown fid_backend"),
    (adaptive, [*DIGITS, "--device", "tpu"], "unknown device 'tpu'"),
    (adaptive, [*DIGITS, "--color", "red"], "unknown parameter 'color'"),
    (gridsearch, [*DIGITS, "--search", "random"], "search"),
    (gridsearch, [*DIGITS, "--n_workers", "0"], "n_workers=0 is too small"),
    # storages and study names
    (gridsearch, [*DIGITS, "--storage", "notaurl"], "not a database URL"),
    (gridsearch, [*DIGITS, "--storage", "sqlite:///:memory:"], "memory"),
    (worker, [], "study_name is required"),
    (worker, ["--study_name", "none", "--storage", "sqlite:///{tmp}/o.db", "--wait", "0"], "none"),
    # resumes
    (adaptive, [*DIGITS, "--resume_run_id", "0123456789abcdef"], "no checkpoint to resume"),
    # reports and their outputs
    (report, [], "experiment is required"),
    (report, ["--experiment", "never-made"], "does not exist"),
    (report, ["--experiment", "x", "--output", "{tmp}/notes.txt"], "must be a .pdf file path"),
    (report, ["--experiment", "x", "--output", "{tmp}"], "is a folder"),
    (report, ["--experiment", "x", "--overwrite", "yes"], "overwrite='yes' is not a boolean"),
    (benchmark, [*DIGITS, "--seeds", "a"], "seeds"),
    (benchmark, [*DIGITS, "--retrain", "maybe"], "retrain='maybe' is not a boolean"),
]


@pytest.mark.parametrize(
    ("entry", "argv", "expected"),
    CASES,
    ids=[f"{e.__name__.split('.')[-1]}:{' '.join(a)[-40:]}" for e, a, _ in CASES],
)
def test_bad_input_one_line_nonzero_nothing_running(
    entry, argv, expected, mlflow_store, digits_extractor, tmp_path, capsys
):
    # digits_extractor: the extractor is cached already (training it prints a bar)
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code = run_entry_point(entry.main, argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " INFO mlflow" not in line]
    assert code != 0
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert expected.replace("{tmp}", str(tmp_path)) in lines[0]
    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    running = (
        client.search_runs(experiments, "attributes.status = 'RUNNING'") if experiments else []
    )
    assert not running


def test_a_tracking_uri_without_a_store_is_one_line(
    mlflow_store, digits_extractor, monkeypatch, capsys
):
    import mlflow

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "foo://x")
    mlflow.set_tracking_uri("foo://x")
    code = run_entry_point(adaptive.main, DIGITS)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code != 0
    assert lines == [lines[0]] and "tracking URI 'foo://x' has no MLflow store" in lines[0]


def _refused_before_mlflow_retries(uri: str, monkeypatch, capsys) -> str:  # noqa: ANN001
    """Run `adaptive` against tracking URI ``uri``; the one error line. MLflow's retrying
    calls (its SQLite engine, about 100 s; its HTTP client, about 250 s) must never be
    reached: the project's own check refuses first."""
    import mlflow
    import mlflow.store.db.utils as db_utils
    import mlflow.utils.rest_utils as rest_utils

    reached = []

    def retrying(name: str):  # noqa: ANN202
        def call(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            reached.append(name)
            raise RuntimeError(f"{name} reached")

        return call

    monkeypatch.setattr(db_utils, "create_sqlalchemy_engine_with_retry", retrying("engine"))
    monkeypatch.setattr(rest_utils, "http_request", retrying("http_request"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    code = run_entry_point(adaptive.main, DIGITS)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code != 0
    assert reached == []
    assert lines == [lines[0]], lines
    return lines[0]


@pytest.mark.parametrize("case", ["not a database", "a folder", "under a file"])
def test_a_sqlite_store_that_cannot_be_opened_is_one_line_at_once(
    mlflow_store, digits_extractor, monkeypatch, capsys, tmp_path, case
):
    target = {"not a database": "junk.db", "a folder": "folder", "under a file": "f/m.db"}
    (tmp_path / "junk.db").write_text("not sqlite")
    (tmp_path / "folder").mkdir()
    (tmp_path / "f").write_text("a file, not a folder")
    uri = f"sqlite:///{tmp_path / target[case]}"
    line = _refused_before_mlflow_retries(uri, monkeypatch, capsys)
    assert f"cannot use the tracking store {uri}" in line


def test_a_tracking_server_that_is_down_is_one_line_at_once(
    mlflow_store, digits_extractor, monkeypatch, capsys
):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.delenv(name, raising=False)
    uri = f"http://127.0.0.1:{port}"
    line = _refused_before_mlflow_retries(uri, monkeypatch, capsys)
    assert f"cannot reach the tracking server {uri}" in line


def _own_images(root, case: str):
    """A folder of images or an npz file with one problem; returns the data_dir."""
    root.mkdir()
    x = np.stack([grey_image(i % 2, i) for i in range(12)])
    labels = {"npz": {"y": np.arange(12) % 2}, "npz no y": {}, "npz short y": {"y": np.zeros(5)}}
    if case in labels:
        return write_npz(root / "f.npz", x=x, **labels[case])
    if case == "one class":
        write_image_folder(root, classes=("cats",), per_class=4)
    elif case == "no classes":
        Image.fromarray(grey_image(0, 0)).save(root / "a.png")
    else:
        write_image_folder(root, per_class=6)
        bad = root / "dogs" / "bad.png"
        if case == "unreadable":
            bad.write_bytes(b"not a png")
        elif case == "wide":
            Image.fromarray(grey_image(0, 0, 20, 60)).save(bad)
    return root


OWN = ["--epochs", "1", "--device", "cpu"]
# (entry, how the data is spoiled, extra arguments, what the one line says)
OWN_CASES = [
    (adaptive, "no classes", ["--dataset", "folder"], "has no class folders"),
    (adaptive, "one class", ["--dataset", "folder"], "has one class folder (cats)"),
    (gridsearch, "unreadable", ["--dataset", "folder"], "cannot read image {tmp}/dogs/bad.png"),
    (fixed, "wide", ["--dataset", "folder", "--latent_dim", "2"], "{tmp}/dogs/bad.png is 60x20"),
    (adaptive, "good", ["--dataset", "folder", "--image_size", "2"], "image_size=2 is out of"),
    (benchmark, "npz", ["--dataset", "npz", "--image_size", "999"], "image_size=999 is out of"),
    (adaptive, "npz", ["--dataset", "digits", "--image_size", "16"], "applies to dataset=folder"),
    (adaptive, "npz no y", ["--dataset", "npz"], "pass fid_backend=inception"),
    (
        benchmark,
        "npz no y",
        ["--dataset", "npz", "--fid_backend", "inception"],
        "the ALD-VAE rule switches phase and stops on the silhouette score",
    ),
    (fixed, "npz short y", ["--dataset", "npz", "--latent_dim", "2"], "{tmp}/f.npz: y has shape"),
]


@pytest.mark.parametrize(
    ("entry", "case", "argv", "expected"),
    OWN_CASES,
    ids=[f"{e.__name__.split('.')[-1]}:{c}:{' '.join(a)[-24:]}" for e, c, a, _ in OWN_CASES],
)
def test_bad_own_images_one_line_nonzero_nothing_running(
    entry, case, argv, expected, mlflow_store, tmp_path, capsys
):
    data_dir = _own_images(tmp_path / "data", case)
    code = run_entry_point(entry.main, [*argv, *OWN, "--data_dir", str(data_dir)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " INFO mlflow" not in line]
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert expected.replace("{tmp}", str(tmp_path / "data")) in lines[0]
    client = MlflowClient()
    experiments = [e.experiment_id for e in client.search_experiments()]
    running = (
        client.search_runs(experiments, "attributes.status = 'RUNNING'") if experiments else []
    )
    assert not running


def test_the_sweep_is_wide():
    """At least 30 distinct bad inputs, over every entry point a user runs."""
    assert len({(e.__name__, tuple(a)) for e, a, _ in CASES}) >= 30
    assert {e.__name__.split(".")[-1] for e, _, _ in CASES} == {
        "adaptive",
        "fixed",
        "gridsearch",
        "worker",
        "report",
        "benchmark",
    }


@pytest.mark.parametrize("entry", [gridsearch, worker, benchmark])
def test_a_password_in_a_parameter_is_refused_and_leaves_no_trace(
    entry, mlflow_store, digits_extractor, monkeypatch, capsys
):
    """As under `mlflow run`: the run it created already holds every parameter, the
    password included. The entry point refuses with one line, and afterwards no param,
    tag, metric name or artifact of the store, deleted runs included, shows it."""
    from mlflow.entities import ViewType

    storage = "postgresql://bench:Hunter2Secret@127.0.0.1:1/optuna"
    client = MlflowClient()
    created = client.create_run("0")  # what `mlflow run` does before the entry point
    client.log_param(created.info.run_id, "storage", storage)
    monkeypatch.setenv("MLFLOW_RUN_ID", created.info.run_id)
    argv = ["--storage", storage] + (["--study_name", "s"] if entry is worker else DIGITS)
    code = run_entry_point(entry.main, argv)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " INFO mlflow" not in line]
    assert code != 0
    assert len(lines) == 1 and "PGPASSWORD" in lines[0] and "storage=env:NAME" in lines[0]
    assert "Hunter2Secret" not in lines[0]
    # the run that held it is purged from the store (no `mlflow run` CLI to wait for),
    # and the line says so; nothing of any run, in any lifecycle stage, holds it
    assert f"the run {created.info.run_id} holding it was purged" in lines[0]
    runs = client.search_runs(["0"], run_view_type=ViewType.ALL)
    assert runs == []
    with pytest.raises(MlflowException):
        client.get_run(created.info.run_id)


def test_an_unreadable_data_folder_is_one_line(mlflow_store, tmp_path, capsys, monkeypatch):
    """What a user who may not read ``data_dir`` gets (a folder of mode 000; the tests
    run as root, whom no mode stops, so the refusal is what the file system raises)."""
    import pathlib

    from pipelines import adaptive

    real_is_file = pathlib.Path.is_file

    def refused(path: pathlib.Path) -> bool:
        if str(path).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied", str(path))
        return real_is_file(path)

    monkeypatch.setattr(pathlib.Path, "is_file", refused)
    code = run_entry_point(adaptive.main, ["--dataset", "mnist", "--data_dir", str(tmp_path)])
    err = [line for line in capsys.readouterr().err.splitlines() if " INFO mlflow" not in line]
    assert code != 0 and len([line for line in err if line.strip()]) == 1, err
    assert err[0].startswith(f"error: cannot read {tmp_path}")
    assert "permission denied" in err[0] and "Traceback" not in "\n".join(err)


# Data path errors: every file-based loader, every way a path of its layout can be wrong
# (unreadable, or a file and a folder swapped), through the entry point.
DATA_LOADERS = ("mnist", "fashion-mnist", "eurosat", "sprites", "folder", "npz")


def _write_data(dataset: str, root: Path) -> tuple[Path, Path, Path | None]:
    """A good, tiny ``dataset`` under ``root``: (data_dir, a file the loader reads, a
    folder of the layout below data_dir that the loader lists or enters; None for npz,
    whose layout has none)."""
    if dataset in ("mnist", "fashion-mnist"):
        folder = "MNIST" if dataset == "mnist" else "FashionMNIST"
        write_mnist_idx(root, folder, per_class_train=2, per_class_test=1)
        raw = root / folder / "raw"
        return root, raw / "train-images-idx3-ubyte", raw
    if dataset == "eurosat":
        write_eurosat(root, per_class=1, classes=("Forest", "River"))
        return root, root / "eurosat/2750/Forest/Forest_1.jpg", root / "eurosat/2750"
    if dataset == "sprites":
        write_sprites(root, per_class_train=1, per_class_test=1)
        npy = root / "sprites" / "npy"
        return root, npy / "walk_front_frames_train.npy", npy
    if dataset == "folder":
        write_image_folder(root, per_class=2)
        return root, root / "cats" / "000.png", root / "cats"
    x = np.stack([grey_image(i % 2, i) for i in range(12)])
    return root, write_npz(root / "f.npz", x=x, y=np.arange(12) % 2), None


def _deny(monkeypatch: pytest.MonkeyPatch, path: Path, folder: bool) -> None:
    """Make ``path`` what a user without permission on it meets (the tests run as root,
    whom no mode stops): a file that cannot be opened, or a folder of mode 000, which
    cannot be listed and whose contents cannot be looked at or opened. The refusals are
    those of the calls the loaders, pathlib, NumPy, PIL and torchvision make."""
    import builtins
    import errno
    import os

    denied = os.path.abspath(path)
    real = {"open": builtins.open, "stat": os.stat, "scandir": os.scandir}
    real |= {"listdir": os.listdir, "access": os.access}

    def where(p: object) -> str | None:
        return os.path.abspath(os.fspath(p)) if isinstance(p, str | os.PathLike) else None

    def inside(p: object) -> bool:  # what the denial covers
        w = where(p)
        return w is not None and (w.startswith(denied + os.sep) if folder else w == denied)

    def refuse(p: object) -> PermissionError:
        return PermissionError(errno.EACCES, "Permission denied", os.fspath(p))

    def fake_open(file, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if inside(file):
            raise refuse(file)
        return real["open"](file, *args, **kwargs)

    def fake_stat(p, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if folder and inside(p):
            raise refuse(p)
        return real["stat"](p, *args, **kwargs)

    def listing(name: str):  # noqa: ANN202
        def fake(p=".", *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if folder and (where(p) == denied or inside(p)):
                raise refuse(p)
            return real[name](p, *args, **kwargs)

        return fake

    def fake_access(p, mode, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        return (
            False if where(p) == denied or inside(p) else real["access"](p, mode, *args, **kwargs)
        )

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(os, "stat", fake_stat)
    monkeypatch.setattr(os, "scandir", listing("scandir"))
    monkeypatch.setattr(os, "listdir", listing("listdir"))
    monkeypatch.setattr(os, "access", fake_access)


def _spoil(
    case: str, dataset: str, tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """Write ``dataset`` under ``tmp`` and spoil one path as ``case`` says; returns the
    data_dir to pass and the path the one error line must name."""
    root = tmp / "closed" / "data" if case == "data_dir in a closed folder" else tmp / "data"
    data_dir, a_file, a_folder = _write_data(dataset, root)
    if case == "unreadable file":
        _deny(monkeypatch, a_file, folder=False)
        return data_dir, a_file
    if case == "unreadable data_dir":
        _deny(monkeypatch, data_dir, folder=True)
        return data_dir, data_dir
    if case == "unreadable folder in it":
        _deny(monkeypatch, a_folder, folder=True)
        return data_dir, a_folder
    if case == "data_dir in a closed folder":
        _deny(monkeypatch, root.parent, folder=True)
        return data_dir, data_dir
    if case == "folder for a file":
        a_file.unlink()
        a_file.mkdir()
        return data_dir, a_file
    if case == "file for data_dir":
        (tmp / "data.txt").write_text("not a folder")
        return tmp / "data.txt", tmp / "data.txt"
    assert case == "file for a folder in it"
    shutil.rmtree(a_folder)
    a_folder.write_text("not a folder")
    return data_dir, a_folder


DATA_CASES = {  # the case: what its one line says
    "unreadable file": "permission denied",
    "unreadable data_dir": "permission denied",
    "unreadable folder in it": "permission denied",
    "data_dir in a closed folder": "permission denied",
    "folder for a file": "is a folder, not a file",
    "file for data_dir": "is a file, not a folder",
    "file for a folder in it": "is a file, not a folder",
}
# npz's data_dir may be a file or a folder, and its layout has no folder inside
NOT_NPZ = ("unreadable folder in it", "file for data_dir", "file for a folder in it")
DATA_SWEEP = [
    (dataset, case)
    for dataset in DATA_LOADERS
    for case in DATA_CASES
    if not (dataset == "npz" and case in NOT_NPZ)
    and not (dataset == "folder" and case == "file for a folder in it")  # a loose file
]


@pytest.mark.parametrize(("dataset", "case"), DATA_SWEEP, ids=[f"{d}:{c}" for d, c in DATA_SWEEP])
def test_every_data_path_error_is_one_line(dataset, case, mlflow_store, tmp_path, capsys):
    """Through the entry point: a non-zero exit, one line starting ``error:`` that names
    the path and says what is wrong with it, no traceback, and no run left RUNNING (the
    refusal comes before the store is even created)."""
    with pytest.MonkeyPatch.context() as denial:  # undone before the checks
        data_dir, named = _spoil(case, dataset, tmp_path, denial)
        argv = ["--dataset", dataset, "--data_dir", str(data_dir), "--epochs", "1"]
        code = run_entry_point(adaptive.main, [*argv, "--device", "cpu"])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and " INFO mlflow" not in line]
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert str(named) in lines[0] and DATA_CASES[case] in lines[0].lower(), lines[0]
    assert not (tmp_path / "mlflow.db").exists()


def test_a_discarded_run_on_a_store_without_purge_says_where_to_purge_it(
    mlflow_store, tmp_path, monkeypatch
):
    """The tracking-server branch of ``discard_run``: a store that is not a database the
    project holds (a file store here, as a tracking server's REST store, has no purge
    for clients) keeps the run deleted; the line says so and gives the `mlflow gc`
    command with the run's id."""
    import mlflow

    from benchmark.tracking.runs import discard_run

    uri = (tmp_path / "mlruns").as_uri()
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 refuses it otherwise
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    client = MlflowClient(uri)
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "storage", "postgresql://user:secret@host/db")
    line = discard_run(run_id, "a password in storage")
    assert line == (
        f"the run {run_id} holding it was deleted; purge it on the tracking server "
        f"(mlflow gc --backend-store-uri <its store> --run-ids {run_id})"
    )
    info = client.get_run(run_id).info
    assert (info.status, info.lifecycle_stage) == ("FAILED", "deleted")
