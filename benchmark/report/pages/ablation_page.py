"""The stop rule's ablation page: each rule's final size per seed (points) and a table
of sizes, epochs, how often the rule fired, and the test metrics against the published
rule with 95% intervals over the seeds."""

from __future__ import annotations

from matplotlib.figure import Figure

from benchmark.report.ablation import PUBLISHED, AblationRow
from benchmark.report.pages.layout import caption, page, styled_table
from benchmark.report.stats import NO_INTERVAL
from benchmark.report.views import Section


def _diff(row: AblationRow, metric: str) -> str:
    d = row.diffs.get(metric)
    if d is None:
        return "(reference)" if row.rule == PUBLISHED else "-"
    if not d.interval.has_interval:
        return f"{d.interval.mean:+.2f}\n({NO_INTERVAL})"
    if metric == "final_latent_dim":  # a size is neither better nor worse
        return d.interval.text(1)
    return f"{d.interval.text()}\n{d.word}"


def _cells(rows: list[AblationRow]) -> list[list[str]]:
    cells = []
    for r in rows:
        size = r.size
        cells.append(
            [
                r.rule,
                str(r.seeds),
                f"{size.mean:.1f} ± {size.sd:.1f}" if size.n > 1 else f"{size.mean:g}",
                f"{r.epochs.mean:.0f}",
                f"{r.fired} of {r.seeds}",
                f"{r.stopped_at.mean:.0f}" if r.stopped_at.n else "-",
                f"{r.test['test_fid'].mean:.2f}",
                _diff(r, "test_fid"),
                f"{r.test['test_recon_loss'].mean:.2f}",
                _diff(r, "test_recon_loss"),
                _diff(r, "final_latent_dim"),
            ]
        )
    return cells


def ablation_page(section: Section, rows: list[AblationRow]) -> Figure | None:
    """The page, or None when the section has no ablation runs."""
    if not rows:
        return None
    fig = page(
        f"The stop rule's ablation: each signal left out in turn ({section.dataset}, "
        f"{section.preset})"
    )
    ax = fig.add_axes((0.14, 0.6, 0.55, 0.3))
    for y, row in enumerate(rows):
        seeds = sorted(row.sizes)
        ax.scatter([row.sizes[s] for s in seeds], [y] * len(seeds), color="tab:orange", zorder=3)
        at: dict[float, list[str]] = {}  # seeds that ended at one size share a label
        for s in seeds:
            at.setdefault(row.sizes[s], []).append(str(s))
        for size, names in at.items():
            ax.annotate(",".join(names), (size, y), textcoords="offset points", xytext=(0, 6),
                        ha="center", fontsize=7, color="0.35")  # fmt: skip
        ax.plot([row.size.mean] * 2, [y - 0.3, y + 0.3], color="k", lw=1.5)
    ax.set_yticks(range(len(rows)), [r.rule for r in rows])
    ax.invert_yaxis()
    ax.set_xlabel("final latent size (points: seeds, labelled by seed; bar: mean)")
    ax.grid(axis="x", alpha=0.3)
    table_ax = fig.add_axes((0.03, 0.13, 0.94, 0.4))
    table_ax.axis("off")
    header = [
        "stop rule",
        "seeds",
        "size (mean ± sd)",
        "epochs",
        "rule fired",
        "stop epoch",
        "test FID",
        "FID - published",
        "recon. loss",
        "recon. - published",
        "size - published",
    ]
    widths = [1.3, 0.5, 1.1, 0.6, 0.7, 0.7, 0.7, 1.6, 0.8, 1.6, 1.4]
    table = styled_table(
        table_ax, _cells(rows), header, widths, height=min(1.0, 0.15 * (len(rows) + 1))
    )
    table.set_fontsize(8)
    caption(
        fig,
        "Each variant is ALD-VAE with one of the stop rule's four signals (silhouette, FID of "
        "prior samples, FID of reconstructions, reconstruction loss) left out of the stop "
        "condition (stop_signals), on the same seeds, data and schedule as the published rule "
        "(the verdict's own ALD-VAE runs). 'Rule fired': in how many seeds the stop rule ended "
        "the training; elsewhere the epoch budget did, and the size is where it ran out; 'stop "
        "epoch': where it fired (mean). "
        "Differences ('- published') are variant minus published, paired by seed, with a 95% "
        "t-interval over the seeds in brackets; 'better'/'worse' only where the interval "
        "excludes 0 (lower FID and reconstruction loss are better).",
    )
    return fig
