"""Matplotlib figures shared by the search's parent run and the report."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

SIGNAL_LABELS = {
    "recon_loss": ("reconstruction loss (BCE, nats/image)", "lower is better"),
    "fid": ("FID of prior samples", "lower is better"),
    "fid_recon": ("FID of reconstructions", "lower is better"),
    "silhouette": ("silhouette of latent codes", "higher is better"),
}


def signals_by_size_figure(
    rows: list[dict],
    selected: int | None,
    extra_marks: dict[str, int] | None = None,
    title: str = "Signals against latent size",
    figsize: tuple[float, float] = (16, 7.5),
    bottom_margin: float = 0.0,
    floors: dict[str, float | None] | None = None,
) -> Figure:
    """Validation (top) and test (bottom) signals against latent size.

    ``rows`` hold ``latent_dim`` and ``val_*``/``test_*`` values of completed sizes;
    ``selected`` is marked with a solid line, each of ``extra_marks`` (label -> size)
    with a dashed one; ``floors`` (metric -> value) draws a dotted line at the FID floor."""
    rows = sorted(rows, key=lambda r: r["latent_dim"])
    sizes = [r["latent_dim"] for r in rows]
    fig, axes = plt.subplots(2, 4, figsize=figsize, sharex=True, layout="constrained")
    # room below for a caption
    fig.get_layout_engine().set(rect=(0, bottom_margin, 1, 1 - bottom_margin))
    for col, (signal, (label, direction)) in enumerate(SIGNAL_LABELS.items()):
        for row, split in enumerate(("val", "test")):
            ax = axes[row][col]
            key = f"{split}_{signal}"
            ys = [r.get(key, float("nan")) for r in rows]
            ax.plot(sizes, ys, "o-", color="tab:blue" if split == "val" else "tab:green")
            ax.set_xscale("log", base=2)
            ax.set_xticks(sizes, [str(s) for s in sizes])
            ax.set_title(f"{split}: {label}\n({direction})", fontsize=9)
            ax.grid(alpha=0.3)
            floor = (floors or {}).get(key)
            if floor is not None:
                ax.axhline(floor, color="0.5", ls=":", lw=1.2, label="FID floor (real vs real)")
            if selected is not None:
                ax.axvline(selected, color="tab:red", lw=1.5, label=f"selected n_z={selected}")
            for i, (mark, size) in enumerate((extra_marks or {}).items()):
                ax.axvline(size, color=f"C{i + 4}", ls="--", lw=1.2, label=f"{mark} n_z={size}")
            if row == 1:
                ax.set_xlabel("latent size n_z")
            if col == 0:
                ax.set_ylabel(f"{'validation' if split == 'val' else 'test'} split")
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside upper right", fontsize=8, ncols=len(handles))
    fig.suptitle(title, fontsize=13, fontweight="bold", x=0.02, ha="left")
    return fig


def close(fig: Figure) -> None:
    """Free a figure's memory."""
    plt.close(fig)
