"""Writing the PDF report: per section the verdict and headline pages, then the adaptive
run's story, the grid, the searches, the rules, compute, what each model's latent space
is used for, images, provenance and, last, the definitions of every metric and cost
(each page in its own module; the images and provenance pages here). Matplotlib only
(PdfPages)."""

from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Callable
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
from benchmark.report.pages.capacity_page import capacity_page  # noqa: E402
from benchmark.report.pages.compute_page import compute_page  # noqa: E402
from benchmark.report.pages.definitions_page import definitions_pages  # noqa: E402
from benchmark.report.pages.flow import flowing_pages  # noqa: E402
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


def provenance_pages(
    section: Section, experiment: str, read_from: str = "the MLflow tracking store"
) -> list[Figure]:
    """Where every number came from: the input, the data, the preset, the FID, the machine,
    the code and every run id; on as many pages as the run ids need (8 methods over 5
    seeds fill more than one)."""
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
    # 135 monospace characters of 9 pt fill the page width (160 ran past it)
    wrapped = [w for line in lines for w in textwrap.wrap(line, 135) or [""]]
    return flowing_pages(f"{section.dataset}: provenance", wrapped, family="monospace")


# A page builder returns one page, several (a table that flows on), or None (a page the
# section has nothing for).
PageBuilder = Callable[[], Figure | list[Figure] | None]


def section_pages(
    section: Section,
    rows: list[MethodRow],
    experiment: str,
    source: RunSource,
    measure: str = DEFAULT_MEASURE,
    ablation: list[RunView] | None = None,
) -> list[tuple[str, PageBuilder]]:
    """The section's pages in the PDF's order, each named and built only when called (so
    that a page is drawn, saved and closed before the next is made)."""
    return [
        ("verdict", lambda: verdict_page(section)),
        ("headline", lambda: headline_pages(section, rows, experiment)),
        ("adaptive", lambda: adaptive_page(section, source)),
        ("grid", lambda: grid_page(section)),
        *(
            (f"search {name}", lambda name=name: search_page(section, source, name))
            for name in PAGED_SEARCHES
        ),
        ("rules", lambda: rules_page(section, rows)),
        ("ablation", lambda: ablation_page(section, ablation_rows(section, ablation or []))),
        ("compute", lambda: compute_page(section, rows)),
        ("methods", lambda: methods_page(section, rows)),
        ("capacity", lambda: capacity_page(section, measure)),
        ("images", lambda: images_page(section, source)),
        ("provenance", lambda: provenance_pages(section, experiment, source.label)),
        # last: every term the pages before it used
        ("definitions", lambda: definitions_pages(section, measure)),
    ]


def figures_of(built: Figure | list[Figure] | None) -> list[Figure]:
    """A page builder's answer as a list of pages."""
    if built is None:
        return []
    return built if isinstance(built, list) else [built]


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
            for _, build in section_pages(section, rows, experiment, source, measure, ablation):
                for fig in figures_of(build()):
                    pdf.savefig(fig)
                    plt.close(fig)
        info = pdf.infodict()
        info["Title"] = f"ALD-VAE benchmark report: {experiment}"
    return summary
