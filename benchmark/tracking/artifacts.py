"""What the active run logs: params, tags, metrics, tables, figures, image grids and the
final model (and loading that model back)."""

from __future__ import annotations

import io
import json
import tempfile
from pathlib import Path

import mlflow
import pandas as pd
import torch

from benchmark.models.vaes import MLPVAE, ModelConfig, model_from_config
from benchmark.system.masking import mask_secrets
from benchmark.tracking.image_grids import save_grid
from benchmark.training.loop import EpochRecord, history_table
from benchmark.training.outputs import ImageGrids

MODEL_CONFIG_FILE = "model/model_config.json"


def log_file(path: Path | str, folder: str | None = None) -> None:
    """A local file as an artifact of the active run."""
    mlflow.log_artifact(str(path), folder)


def log_epoch(record: EpochRecord) -> None:
    """Per-epoch metrics with step = epoch."""
    mlflow.log_metrics(record.metrics(), step=record.epoch)


def last_logged_epoch(run_id: str) -> int:
    """The last epoch ``run_id`` logged (0: none). A run stopped after logging an epoch but
    before its checkpoint runs that epoch again on resume; the caller logs only later
    epochs, so no step is logged twice."""
    history = mlflow.tracking.MlflowClient().get_metric_history(run_id, "latent_dim")
    return max((m.step for m in history), default=0)


def log_params(params: dict[str, object]) -> None:
    """Extra params of the active run (values are stored as strings, passwords of URLs
    masked)."""
    mlflow.log_params({k: mask_secrets(str(v)) for k, v in params.items()})


def set_tags(tags: dict[str, str]) -> None:
    """Extra tags of the active run (passwords of URLs masked)."""
    mlflow.set_tags({k: mask_secrets(str(v)) for k, v in tags.items()})


def log_metrics(metrics: dict[str, float], step: int | None = None) -> None:
    """Metrics of the active run (final ones step-less; ``step`` for a running summary)."""
    mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)


def log_history(history: list[EpochRecord], name: str = "history.csv") -> None:
    """The per-epoch history (decisions and removed dims included) as CSV."""
    log_table(history_table(history), name)


def log_image_grids(grids: ImageGrids) -> None:
    """PNG grids: ``images/reconstructions.png`` (rows of test images, one column per
    class labelled with it, each row over its reconstructions) and
    ``images/prior_samples.png``; tiles upscaled without smoothing to at least
    ``benchmark.tracking.image_grids.MIN_TILE_SIDE`` pixels, so that the MLflow UI shows them
    readably."""
    labels = [f"class {c}" if grids.columns <= 5 else str(c) for c in grids.labels]
    with tempfile.TemporaryDirectory() as tmp:
        for name, images, columns, names in (
            ("reconstructions.png", grids.pairs, grids.columns, labels),
            ("prior_samples.png", grids.samples, 8, None),
        ):
            path = Path(tmp) / name
            save_grid(path, images, columns, names)
            mlflow.log_artifact(str(path), "images")


def log_model(model: MLPVAE) -> None:
    """The final model as a state dict plus its config (rebuild with :func:`load_model`).

    A state dict, not ``mlflow.pytorch.log_model``: the latent size changes during a
    run, so the config that rebuilds the module must travel with the weights."""
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state_dict.pt"
        torch.save({k: v.cpu() for k, v in model.state_dict().items()}, state)
        mlflow.log_artifact(str(state), "model")
    mlflow.log_text(json.dumps(model.config.to_dict(), indent=2), MODEL_CONFIG_FILE)


def load_model(run_id: str, device: str | torch.device = "cpu") -> MLPVAE:
    """Load the final model of a run logged by :func:`log_model`.

    >>> model = load_model("0123abcd...")          # doctest: +SKIP
    >>> images = torch.sigmoid(model.decode(torch.randn(16, model.latent_dim)))
    """
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="model", dst_path=tmp
        )
        config = ModelConfig.from_dict(json.loads((Path(local) / "model_config.json").read_text()))
        model = model_from_config(config)
        state = torch.load(Path(local) / "state_dict.pt", map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    return model.to(device).eval()


def log_table(rows: list[dict], name: str) -> None:
    """A list of rows as a CSV artifact."""
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    mlflow.log_text(buf.getvalue(), name)


def log_json(value: object, name: str) -> None:
    """A JSON-serialisable value as a text artifact ``name``."""
    mlflow.log_text(json.dumps(value), name)


def log_figure(figure, name: str) -> None:  # noqa: ANN001 - a matplotlib Figure
    """A matplotlib figure as an image artifact."""
    mlflow.log_figure(figure, name)
