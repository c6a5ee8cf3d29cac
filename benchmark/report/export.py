"""Results that outlive the tracking store: an experiment's runs exported to a folder of
text files, and read back as a report's :class:`~benchmark.report.source.RunSource`.

The folder (``results/<name>/``) holds one JSON-lines file per seed, ``seed<k>.jsonl``,
one line per run (every status but RUNNING): its id, status, start and end times, tags,
params, final metrics, the history of every metric logged at more than one step
(``system/`` metrics left out) and its ``history.csv``; and, as PNG files beside them
(``images/<run id>/<name>``), the image grids of the runs the report shows (adaptive
runs and the trials a search selected). A new export of the same experiment merges into
the folder: a run already there is replaced by its newer state, runs that only the folder
holds (from an earlier machine) are kept.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from benchmark.report.source import ReportError, Series, TrackingSource
from benchmark.report.views import RunView

IMAGES = ("reconstructions.png", "prior_samples.png")
HISTORY_FILE = "history.csv"
SEED_FILE = "seed{seed}.jsonl"
# what MLflow logs on its own every few seconds: not a result, and most of the bytes
SYSTEM_PREFIX = "system/"


def _row(view: RunView, histories: dict[str, Series], history_csv: str | None) -> dict:
    return {
        "run_id": view.run_id,
        "status": view.status,
        "start_time": view.start_time,
        "end_time": view.end_time,
        "tags": view.tags,
        "params": view.params,
        "metrics": view.metrics,
        "histories": {k: [[s, v] for s, v in series] for k, series in histories.items()},
        "files": {HISTORY_FILE: history_csv} if history_csv is not None else {},
    }


def view_of(row: dict) -> RunView:
    """The report's view of one exported run."""
    tags = row["tags"]
    return RunView(
        row["run_id"],
        tags.get("benchmark.method", ""),
        tags.get("benchmark.dataset", ""),
        int(tags.get("benchmark.seed", "0") or 0),
        tags.get("benchmark.preset", ""),
        row["status"],
        row["start_time"] or 0,
        dict(tags),
        dict(row["params"]),
        dict(row["metrics"]),
        row.get("end_time"),
    )


def _selected_trials(views: list[RunView]) -> set[str]:
    """Ids of the finished trials whose size their search selected."""
    best = {
        v.run_id: int(v.metrics["best_latent_dim"])
        for v in views
        if v.method == "gridsearch" and "best_latent_dim" in v.metrics
    }
    return {
        v.run_id
        for v in views
        if v.status == "FINISHED"
        and v.parent_id in best
        and v.params.get("fixed_latent_dim", "").isdigit()
        and int(v.params["fixed_latent_dim"]) == best[v.parent_id]
    }


def read_rows(folder: Path) -> dict[str, dict]:
    """Every exported run of ``folder`` by id ({} for a folder without exports)."""
    rows: dict[str, dict] = {}
    for path in sorted(Path(folder).glob("seed*.jsonl")):
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ReportError(f"{path}:{number} is not a JSON line ({exc.msg})") from None
                rows[row["run_id"]] = row
    return rows


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def export_experiment(
    experiment: str, folder: Path, client=None, seeds: Iterable[int] | None = None
) -> dict[int, int]:  # noqa: ANN001 - an MlflowClient
    """Export the runs of ``experiment`` (only those of ``seeds``, if given) into
    ``folder``, merged with what it holds; returns the number of runs per seed file
    written. RUNNING runs are left out (they are not results yet)."""
    source = TrackingSource(experiment, client)
    wanted = None if seeds is None else set(seeds)
    views = [
        v
        for v in source.runs()
        if v.is_result and v.status != "RUNNING" and (wanted is None or v.seed in wanted)
    ]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows = read_rows(folder)
    with_images = {v.run_id for v in views if v.method == "adaptive"} | _selected_trials(views)
    for view in views:
        keys = [k for k in view.metrics if not k.startswith(SYSTEM_PREFIX)]
        histories = {}
        for key in keys:
            series = source.metric_history(view.run_id, key)
            if len(series) > 1 or any(step != 0 for step, _ in series):
                histories[key] = series
        frame = source.history_frame(view.run_id)
        csv = None
        if frame is not None:
            buf = io.StringIO()
            frame.to_csv(buf, index=False)
            csv = buf.getvalue()
        rows[view.run_id] = _row(view, histories, csv)
        if view.run_id in with_images:
            _export_images(source, view.run_id, folder)
    by_seed: dict[int, list[dict]] = defaultdict(list)
    for row in rows.values():
        by_seed[view_of(row).seed].append(row)
    written = {}
    for seed, members in sorted(by_seed.items()):
        if wanted is not None and seed not in wanted:
            continue
        members.sort(key=lambda r: (r["start_time"] or 0, r["run_id"]))
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in members)
        _write_atomically(folder / SEED_FILE.format(seed=seed), text)
        written[seed] = len(members)
    return written


def _export_images(source: TrackingSource, run_id: str, folder: Path) -> None:
    target = folder / "images" / run_id
    with tempfile.TemporaryDirectory() as tmp:
        for name in IMAGES:
            path = source.image(run_id, name, Path(tmp))
            if path is not None:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, target / name)


class ExportSource:
    """A results folder written by :func:`export_experiment`, read without MLflow."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.label = f"the results folder {self.folder}"
        self._rows: dict[str, dict] | None = None

    def _all(self) -> dict[str, dict]:
        if self._rows is None:
            if not self.folder.is_dir():
                raise ReportError(f"results folder {self.folder} does not exist")
            self._rows = read_rows(self.folder)
            if not self._rows:
                raise ReportError(
                    f"results folder {self.folder} holds no exported runs (seed*.jsonl); "
                    "export an experiment into it first (scripts/verdict.py does)"
                )
        return self._rows

    def runs(self) -> list[RunView]:
        return [view_of(row) for row in self._all().values()]

    def metric_history(self, run_id: str, key: str) -> Series:
        row = self._all()[run_id]
        series = row["histories"].get(key)
        if series is not None:
            return [(int(s), float(v)) for s, v in series]
        # a metric logged once, at step 0, has no history of its own
        return [(0, float(row["metrics"][key]))] if key in row["metrics"] else []

    def history_frame(self, run_id: str) -> pd.DataFrame | None:
        text = self._all()[run_id]["files"].get(HISTORY_FILE)
        return None if text is None else pd.read_csv(io.StringIO(text))

    def image(self, run_id: str, name: str, folder: Path) -> Path | None:
        path = self.folder / "images" / run_id / name
        return path if path.is_file() else None


def is_results_folder(path: str | Path) -> bool:
    """Whether ``path`` is a folder holding exported runs."""
    return Path(path).is_dir() and any(Path(path).glob("seed*.jsonl"))
