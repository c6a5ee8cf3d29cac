"""Writing the PDF report: one headline page per section, then the adaptive run's story,
the grid, the rules, compute, images and provenance (each page in its own module; the
images and provenance pages here). Matplotlib only (PdfPages)."""

from __future__ import annotations

import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from benchmark.methods import METHODS  # noqa: E402
from benchmark.report.ablation import ablation_rows  # noqa: E402
from benchmark.report.collect import NAMED_SEARCHES, Section  # noqa: E402
from benchmark.report.compute import DEFAULT_MEASURE  # noqa: E402
from benchmark.report.headline import floors_text, headline_pages  # noqa: E402
from benchmark.report.pages.ablation_page import ablation_page  # noqa: E402
from benchmark.report.pages.compute_page import compute_page  # noqa: E402
from benchmark.report.pages.grid_page import grid_page  # noqa: E402
from benchmark.report.pages.layout import caption, page  # noqa: E402
from benchmark.report.pages.pareto_page import methods_page
from benchmark.report.pages.rules_page import rules_page  # noqa: E402
from benchmark.report.pages.search_page import PAGED_SEARCHES, search_page
from benchmark.report.pages.story import adaptive_page  # noqa: E402
from benchmark.report.pages.verdict_page import verdict_page
from benchmark.report.source import RunSource  # noqa: E402
from benchmark.report.summary import MethodRow, method_rows  # noqa: E402
from benchmark.report.views import RunView  # noqa: E402

# Every PDF this project writes carries this in its metadata (Creator): the report writer
# never overwrites an existing file without it.
REPORT_CREATOR = "ald-vae-benchmark report"


def whiten_label_band(image: np.ndarray) -> np.ndarray:
    """The image grid with a red label band painted white.

    Grids logged before the band was fixed (benchmark.tracking.image_grids, 52b5bd1) have
    their class labels in black on pure red: Pillow filled an RGB band with the integer
    255, which is red only. Those runs stay in users' stores, so the report repaints the
    band: the top rows whose every pixel is a shade between red and black (green = blue =
    0; no row of tiles is) become the same shade between white and black."""
    if image.ndim != 3 or image.shape[2] < 3:
        return image
    reddish = (image[..., 1] == 0) & (image[..., 2] == 0)
    rows = 0
    while rows < image.shape[0] and reddish[rows].all() and image[rows, :, 0].any():
        rows += 1
    if rows == 0:
        return image
    out = image.copy()
    # on red, text of opacity a leaves red = 1 - a; on white it is grey 1 - a
    out[:rows, :, 1] = out[:rows, :, 0]
    out[:rows, :, 2] = out[:rows, :, 0]
    return out


def images_page(section: Section, source: RunSource) -> Figure | None:
    seed = next((s for s in section.seeds if s.adaptive is not None), None)
    if seed is None:
        return None
    columns = [
        (
            "ALD-VAE final model",
            seed.adaptive.run_id,
            round(seed.adaptive.metrics["final_latent_dim"]),
        )
    ]
    # beside it, the model the first study that ran (the grid, else another) selected
    for kind, view in seed.searches.items():
        chosen = view.trial_for(view.best_latent_dim)
        if chosen is not None:
            columns.append(
                (f"{METHODS[kind].label}'s selected model", chosen.run_id, view.best_latent_dim)
            )
            break
    fig = page(f"{section.dataset}: reconstructions and samples (seed {seed.seed})")
    with tempfile.TemporaryDirectory() as tmp:
        for col, (title, run_id, size) in enumerate(columns):
            for row, (name, what) in enumerate(
                (
                    ("reconstructions.png", "test images (top rows) and reconstructions"),
                    ("prior_samples.png", "decoded samples of the prior N(0, I)"),
                )
            ):
                ax = fig.add_axes((0.03 + col * 0.49, 0.50 - row * 0.42, 0.45, 0.36))
                path = source.image(run_id, name, Path(tmp))
                if path is not None:
                    picture = whiten_label_band(mpimg.imread(path))
                    ax.imshow(picture, cmap="gray", interpolation="nearest")
                else:
                    ax.text(0.5, 0.5, "image not logged", ha="center")
                ax.set_title(f"{title} (n_z={size}): {what}", fontsize=9)
                ax.axis("off")
    beside = f"; right: {columns[1][0]}" if len(columns) > 1 else ""
    caption(
        fig,
        f"Left: the adaptive run's final model{beside}. From the same fixed, class-balanced "
        "test images and the same seeded noise.",
    )
    return fig


def _three(value: str | None) -> str:
    """A logged float param with three decimals ("-" when absent)."""
    return "-" if value is None else f"{float(value):.3f}"


def _whole(value: str | None) -> str:
    """A logged count param as an integer (MLflow may hold it as "3.0"; "-" when absent)."""
    return "-" if value is None else str(int(float(value)))


def provenance_page(
    section: Section, experiment: str, read_from: str = "the MLflow tracking store"
) -> Figure:
    """Where every number came from: the input, the data, the preset, the FID, the machine,
    the code and every run id."""
    fig = page(f"{section.dataset}: provenance")
    lines = [
        f"experiment: {experiment}; read from {read_from}",
        f"generated: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
    ]
    any_run = next(
        (r for s in section.seeds for r in (s.adaptive, s.retrain) if r is not None), None
    )
    if any_run is None:
        any_run = next(
            (t for s in section.seeds for v in (s.grid, s.halving) if v for t in v.trials), None
        )
    if any_run is not None:
        p, t = any_run.params, any_run.tags
        lines += [
            f"dataset: {section.dataset}; split sizes train/val/test: "
            f"{p.get('data.train_size')}/{p.get('data.val_size')}/{p.get('data.test_size')}; "
            f"image shape {p.get('data.image_shape')}",
            f"preset: {section.preset}; epochs {p.get('config.epochs')}; batch "
            f"{p.get('config.batch_size')}; lr {p.get('config.lr')}; initial latent size "
            f"{p.get('config.initial_latent_dim')}",
            f"FID: backend {section.fid_backend}; {section.fid_val_samples} validation images, "
            f"{section.fid_test_samples} test images{floors_text(section)}; extractor validation "
            f"accuracy {_three(p.get('fid.extractor_val_acc'))}, dead feature units "
            f"{_whole(p.get('fid.extractor_dead_units'))}",
            f"device: {t.get('benchmark.device')}; hardware: {t.get('benchmark.hardware')}",
            f"packages: {t.get('benchmark.versions')}",
            f"git commit: {t.get('mlflow.source.git.commit') or t.get('benchmark.git_commit')}",
        ]
    lines.append("run ids:")
    for s in section.seeds:
        if s.adaptive:
            lines.append(f"  seed {s.seed} adaptive: {s.adaptive.run_id}")
        for kind in NAMED_SEARCHES:
            view = getattr(s, kind)
            if view:
                parents = ", ".join(p.run_id for p in view.parents)
                lines.append(f"  seed {s.seed} {kind} (study {view.study_name}): {parents}")
        for kind, view in s.searches.items():
            if kind not in NAMED_SEARCHES:  # the studies the first report did not have
                parents = ", ".join(p.run_id for p in view.parents)
                lines.append(f"  seed {s.seed} {kind} (study {view.study_name}): {parents}")
        if s.retrain:
            lines.append(f"  seed {s.seed} retrain: {s.retrain.run_id}")
        for kind, rival in s.rivals.items():
            lines.append(f"  seed {s.seed} {kind}: {', '.join(r.run_id for r in rival.runs)}")
    y = 0.88
    for line in lines:
        # 135 monospace characters of 9 pt fill the page width (160 ran past it)
        for wrapped in textwrap.wrap(line, 135) or [""]:
            fig.text(0.03, y, wrapped, fontsize=9, family="monospace")
            y -= 0.028
    return fig


def write_pdf(
    sections: list[Section],
    experiment: str,
    output: Path,
    source: RunSource,
    measure: str = DEFAULT_MEASURE,
    ablation: list[RunView] | None = None,
) -> dict[str, list[MethodRow]]:
    """Write the report, compute in ``measure`` (checked by the caller), with the stop
    rule's ablation page where ``ablation`` holds runs of the section's dataset; returns
    each section's headline rows (keyed dataset/preset)."""
    summary = {}
    with PdfPages(output, metadata={"Creator": REPORT_CREATOR}) as pdf:
        for section in sections:
            rows = method_rows(section, measure)
            summary[f"{section.dataset}/{section.preset}"] = rows
            pages = [
                verdict_page(section),
                *headline_pages(section, rows, experiment),
                adaptive_page(section, source),
                grid_page(section),
                *(search_page(section, source, name) for name in PAGED_SEARCHES),
                rules_page(section, rows),
                ablation_page(section, ablation_rows(section, ablation or [])),
                compute_page(section, rows),
                methods_page(section, rows),
                images_page(section, source),
                provenance_page(section, experiment, source.label),
            ]
            for fig in pages:
                if fig is not None:
                    pdf.savefig(fig)
                    plt.close(fig)
        info = pdf.infodict()
        info["Title"] = f"ALD-VAE benchmark report: {experiment}"
    return summary
