"""Writing the PDF report: one headline page per section, then the adaptive run's story,
the grid, compute, images and provenance. Matplotlib only (PdfPages)."""

from __future__ import annotations

import tempfile
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.backends.backend_pdf import PdfPages  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from benchmark import figures  # noqa: E402
from benchmark.report.collect import (  # noqa: E402
    VAL_SIGNALS,
    Section,
    download_image,
    history_frame,
    metric_history,
)
from benchmark.report.layout import PAGE, caption, page, styled_table  # noqa: E402
from benchmark.report.rules_page import rules_page  # noqa: E402
from benchmark.report.summary import MethodRow, fmt, method_rows, verdict  # noqa: E402

# Every PDF this project writes carries this in its metadata (Creator): the report writer
# never overwrites an existing file without it.
REPORT_CREATOR = "ald-vae-benchmark report"

TABLE_COLUMNS = (
    ("latent\nsize", lambda r: fmt(r.latent_dim, 1, r.n_seeds, "\n")),
    ("time to\nanswer (s)", lambda r: fmt(r.time_to_answer_s, 1, r.n_seeds, "\n")),
    ("total\ncompute (s)", lambda r: fmt(r.compute_s, 1, r.n_seeds, "\n")),
    ("compute /\nadaptive", lambda r: fmt(r.compute_vs_adaptive, 2, r.n_seeds, "\n")),
    ("test\nFID", lambda r: fmt(r.test["test_fid"], 2, r.n_seeds, "\n")),
    ("test FID\nrecon", lambda r: fmt(r.test["test_fid_recon"], 2, r.n_seeds, "\n")),
    ("test\nsilhouette", lambda r: fmt(r.test["test_silhouette"], 3, r.n_seeds, "\n")),
    ("test recon\nloss", lambda r: fmt(r.test["test_recon_loss"], 2, r.n_seeds, "\n")),
    ("test cluster\naccuracy", lambda r: fmt(r.test["test_cluster_acc"], 3, r.n_seeds, "\n")),
    ("active\nunits", lambda r: fmt(r.test["test_active_units"], 1, r.n_seeds, "\n")),
)
# relative widths: method label, seeds, then the value columns
TABLE_WIDTHS = [2.6, 0.6] + [1.0] * len(TABLE_COLUMNS)


def _floors(section: Section) -> str:
    if section.val_fid_floor is None or section.test_fid_floor is None:
        return ""
    return (
        f" (FID floor, real vs real: {section.val_fid_floor:.2f} validation, "
        f"{section.test_fid_floor:.2f} test)"
    )


def headline_page(section: Section, rows: list[MethodRow], experiment: str) -> Figure:
    seeds = ", ".join(str(s.seed) for s in section.seeds)
    fig = page(f"{section.dataset} (preset {section.preset}): did one adaptive run find the size?")
    header = (
        f"Experiment {experiment!r}; seeds: {seeds} ({len(section.seeds)}); FID features: "
        f"{section.fid_backend}, {section.fid_val_samples} validation / "
        f"{section.fid_test_samples} test images{_floors(section)}. Mean ± standard deviation "
        "over seeds where there are several."
    )
    fig.text(0.03, 0.935, "\n".join(textwrap.wrap(header, 175)), fontsize=9, va="top")
    ax = fig.add_axes((0.03, 0.45, 0.94, 0.42))
    ax.axis("off")
    cells = [[r.label, str(r.n_seeds)] + [f(r) for _, f in TABLE_COLUMNS] for r in rows]
    header = ["method", "seeds"] + [c for c, _ in TABLE_COLUMNS]
    if cells:
        several = any(r.n_seeds > 1 for r in rows)  # mean and ± sd on two lines
        height = min(1.0, (0.2 if several else 0.16) * (len(cells) + 1.3))
        styled_table(ax, cells, header, TABLE_WIDTHS, height)
    else:
        ax.text(0.5, 0.5, "no finished runs to compare", ha="center")
    y = 0.40
    for line in verdict(section, rows):
        for wrapped in textwrap.wrap(line, 150):
            fig.text(0.03, y, wrapped, fontsize=10)
            y -= 0.032
    caption(
        fig,
        "Time to answer: elapsed wall-clock until the method names a latent size (a search: "
        "all its invocations, workers in parallel; retrain: adaptive run plus retraining). "
        "Total compute: the sum of its training runs' wall-clock on one machine. "
        "'compute / adaptive': a search's compute divided by the adaptive run's (per seed, "
        "then averaged). Test metrics are those of each method's final model from the same "
        "test-split evaluation; FIDs are comparable only within this section.",
    )
    return fig


def _phase_marks(run_id: str) -> tuple[list[int], int | None, int | None]:
    """Epochs with a cut, the epoch of the switch to fine steps, and the stop epoch."""
    frame = history_frame(run_id)
    if frame is None or "decision" not in frame:
        return [], None, None
    cuts = frame.loc[frame["decision"] == "cut", "epoch"].astype(int).tolist()
    fine = frame.loc[frame["phase"] == "fine", "epoch"]
    stop = frame.loc[frame["decision"] == "stop", "epoch"]
    return (
        cuts,
        int(fine.iloc[0]) if len(fine) else None,
        int(stop.iloc[0]) if len(stop) else None,
    )


def adaptive_page(section: Section, client: MlflowClient) -> Figure | None:
    runs = [s.adaptive for s in section.seeds if s.adaptive is not None]
    if not runs:
        return None
    fig = page(f"{section.dataset}: the adaptive run, epoch by epoch")
    grid = fig.add_gridspec(
        2,
        4,
        height_ratios=[1.3, 1],
        left=0.06,
        right=0.98,
        top=0.88,
        bottom=0.16,
        hspace=0.35,
        wspace=0.3,
    )
    ax = fig.add_subplot(grid[0, :])
    first = runs[0]
    dims: dict[int, float] = {}
    for run in runs:
        steps = metric_history(client, run.run_id, "latent_dim")
        if run is first:
            dims = dict(steps)
        ax.step(
            [s for s, _ in steps],
            [v for _, v in steps],
            where="post",
            label=f"seed {run.seed}",
            lw=2 if run is first else 1,
        )
    cuts, fine, stop = _phase_marks(first.run_id)
    if cuts:
        ax.plot(
            cuts,
            [dims[c] for c in cuts],
            "v",
            color="tab:red",
            ms=6,
            label=f"cut after epoch (seed {first.seed})",
        )
    if fine is not None:
        ax.axvline(fine, color="tab:purple", ls="--", label=f"switch to fine steps (epoch {fine})")
    if stop is not None:
        ax.axvline(stop, color="black", ls=":", label=f"stop (epoch {stop})")
    ax.set_ylabel("latent size n_z")
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
    for col, key in enumerate(VAL_SIGNALS):
        sub = fig.add_subplot(grid[1, col])
        hist = metric_history(client, first.run_id, key)
        sub.plot([s for s, _ in hist], [v for _, v in hist], color="tab:blue", lw=1)
        if fine is not None:
            sub.axvline(fine, color="tab:purple", ls="--", lw=1)
        if stop is not None:
            sub.axvline(stop, color="black", ls=":", lw=1)
        label = figures.SIGNAL_LABELS[key.removeprefix("val_")][0]
        sub.set_title(f"validation {label}", fontsize=8)
        sub.set_xlabel("epoch", fontsize=8)
        sub.tick_params(labelsize=7)
        sub.grid(alpha=0.3)
    caption(
        fig,
        "Top: latent size against epoch (the size each epoch trained at), for every seed; red "
        "triangles mark the epochs after which dimensions were removed, the dashed line the "
        "switch from coarse to fine steps, the dotted line the stop. Bottom: the four "
        f"validation signals the controller watches (seed {first.seed}); FIDs use "
        f"{section.fid_backend} features on {section.fid_val_samples} images.",
    )
    return fig


def grid_page(section: Section) -> Figure | None:
    seed = next((s for s in section.seeds if s.grid is not None), None)
    if seed is None or seed.grid is None:
        return None
    rows = []
    for size in seed.grid.sizes():
        trial = seed.grid.trial_for(size)
        if trial is not None:
            rows.append(
                {"latent_dim": size}
                | {k: v for k, v in trial.metrics.items() if k.startswith(("val_", "test_"))}
            )
    marks = {}
    if seed.adaptive is not None:
        marks["adaptive final"] = int(seed.adaptive.metrics["final_latent_dim"])
    fig = figures.signals_by_size_figure(
        rows,
        seed.grid.best_latent_dim,
        marks,
        title=f"{section.dataset}: the grid search (seed {seed.seed})",
        figsize=PAGE,
        bottom_margin=0.08,
        floors={
            "val_fid": section.val_fid_floor,
            "val_fid_recon": section.val_fid_floor,
            "test_fid": section.test_fid_floor,
            "test_fid_recon": section.test_fid_floor,
        },
    )
    caption(
        fig,
        "Validation (top) and test (bottom) signals of each fixed-size model at the end of its "
        "training, against latent size (log scale). Red: the size the grid's selection rule "
        "picked from the validation signals; dashed: the adaptive run's final size. Study "
        f"{seed.grid.study_name}; FIDs use {section.fid_backend} features; dotted grey: the "
        "FID floor (real vs real images at the same sample count).",
    )
    return fig


def compute_page(section: Section, rows: list[MethodRow]) -> Figure:
    fig = page(f"{section.dataset}: what each answer cost")
    ax = fig.add_axes((0.28, 0.18, 0.66, 0.7))
    bars: list[tuple[str, float, float]] = []
    by = {r.method: r for r in rows}
    if "adaptive" in by:
        bars.append(("ALD-VAE, one run", *by["adaptive"].compute_s))
    for kind in ("grid", "halving"):
        if kind in by:
            workers = {getattr(s, kind).n_workers for s in section.seeds if getattr(s, kind)}
            name = "grid search" if kind == "grid" else "successive halving"
            bars.append((f"{name}, as one machine runs it", *by[kind].compute_s))
            bars.append(
                (
                    f"{name}, as its {'/'.join(map(str, sorted(workers)))} worker(s) ran it",
                    *by[kind].time_to_answer_s,
                )
            )
    if "retrain" in by:
        bars.append(("ALD-VAE + retrain at its size", *by["retrain"].compute_s))
    labels = [b[0] for b in bars]
    means = [b[1] for b in bars]
    sds = [b[2] for b in bars]
    ax.barh(range(len(bars)), means, xerr=sds, color="tab:blue", alpha=0.8)
    ax.set_yticks(range(len(bars)), labels)
    ax.invert_yaxis()
    ax.set_xlabel("wall-clock (seconds)")
    ax.grid(axis="x", alpha=0.3)
    for i, m in enumerate(means):
        ax.text(m, i, f"  {m:.1f} s", va="center", fontsize=9)
    ax.set_xlim(0, max(means + [1]) * 1.2)
    hardware = {
        r.tags.get("benchmark.hardware", "?")
        for s in section.seeds
        for r in (s.adaptive,)
        if r is not None
    }
    caption(
        fig,
        "Wall-clock per method (mean over seeds; error bars: standard deviation). 'As one "
        "machine runs it' is the sum of the search's trial wall-clock; 'as its workers ran "
        f"it' is the elapsed time with its parallel workers. Hardware: {', '.join(hardware)}.",
    )
    return fig


def images_page(section: Section) -> Figure | None:
    seed = next((s for s in section.seeds if s.adaptive is not None), None)
    if seed is None:
        return None
    columns = [
        (
            "ALD-VAE final model",
            seed.adaptive.run_id,
            int(seed.adaptive.metrics["final_latent_dim"]),
        )
    ]
    if seed.grid is not None:
        chosen = seed.grid.trial_for(seed.grid.best_latent_dim)
        if chosen is not None:
            columns.append(
                ("grid search's selected model", chosen.run_id, seed.grid.best_latent_dim)
            )
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
                path = download_image(run_id, name, Path(tmp))
                if path is not None:
                    ax.imshow(mpimg.imread(path), cmap="gray", interpolation="nearest")
                else:
                    ax.text(0.5, 0.5, "image not logged", ha="center")
                ax.set_title(f"{title} (n_z={size}): {what}", fontsize=9)
                ax.axis("off")
    caption(
        fig,
        "Left: the adaptive run's final model; right: the model the grid search "
        "selected. Both from the same fixed test images and the same seeded noise.",
    )
    return fig


def _three(value: str | None) -> str:
    """A logged float param with three decimals ("-" when absent)."""
    return "-" if value is None else f"{float(value):.3f}"


def provenance_page(section: Section, experiment: str) -> Figure:
    fig = page(f"{section.dataset}: provenance")
    lines = [f"experiment: {experiment}", f"generated: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"]
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
            f"{section.fid_test_samples} test images{_floors(section)}; extractor validation "
            f"accuracy {_three(p.get('fid.extractor_val_acc'))}, dead feature units "
            f"{p.get('fid.extractor_dead_units', '-')}",
            f"device: {t.get('benchmark.device')}; hardware: {t.get('benchmark.hardware')}",
            f"packages: {t.get('benchmark.versions')}",
            f"git commit: {t.get('mlflow.source.git.commit') or t.get('benchmark.git_commit')}",
        ]
    lines.append("run ids:")
    for s in section.seeds:
        if s.adaptive:
            lines.append(f"  seed {s.seed} adaptive: {s.adaptive.run_id}")
        for kind in ("grid", "halving"):
            view = getattr(s, kind)
            if view:
                parents = ", ".join(p.run_id for p in view.parents)
                lines.append(f"  seed {s.seed} {kind} (study {view.study_name}): {parents}")
        if s.retrain:
            lines.append(f"  seed {s.seed} retrain: {s.retrain.run_id}")
    y = 0.88
    for line in lines:
        for wrapped in textwrap.wrap(line, 160) or [""]:
            fig.text(0.03, y, wrapped, fontsize=9, family="monospace")
            y -= 0.028
    return fig


def write_pdf(
    sections: list[Section], experiment: str, output: Path, client: MlflowClient
) -> dict[str, list[MethodRow]]:
    """Write the report; returns each section's headline rows (keyed dataset/preset)."""
    summary = {}
    with PdfPages(output, metadata={"Creator": REPORT_CREATOR}) as pdf:
        for section in sections:
            rows = method_rows(section)
            summary[f"{section.dataset}/{section.preset}"] = rows
            pages = [
                headline_page(section, rows, experiment),
                adaptive_page(section, client),
                grid_page(section),
                rules_page(section, rows),
                compute_page(section, rows),
                images_page(section),
                provenance_page(section, experiment),
            ]
            for fig in pages:
                if fig is not None:
                    pdf.savefig(fig)
                    plt.close(fig)
        info = pdf.infodict()
        info["Title"] = f"ALD-VAE benchmark report: {experiment}"
    return summary
