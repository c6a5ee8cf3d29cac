"""Print a verdict's page-one table and sentences as Markdown, from an exported results
folder (no tracking store needed), and the stop rule's ablation table where the folder
has its ``-ablation`` companion: the README's and docs/results.md's verdict tables.

    python scripts/verdict_table.py results/verdict-mnist5k results/verdict-fashion-mnist5k
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmark.report.ablation import AblationRow, ablation_rows  # noqa: E402
from benchmark.report.collect import collect  # noqa: E402
from benchmark.report.export import ExportSource  # noqa: E402
from benchmark.report.numbers import duration  # noqa: E402
from benchmark.report.summary import method_rows  # noqa: E402
from benchmark.report.verdict import GRID, MethodVerdict, method_verdicts, sentences  # noqa: E402
from benchmark.report.views import EPOCHS_METRIC  # noqa: E402
from benchmark.report.write import ablation_of  # noqa: E402


def _diff(v: MethodVerdict, metric: str) -> str:
    if v.method == GRID:
        return "(the grid)"
    d = v.diffs.get(metric)
    if d is None:
        return "-"
    # the interval text already says "1 seed: no interval"
    return d.interval.text() if not d.interval.has_interval else f"{d.interval.text()} {d.word}"


def table(folder: str) -> str:
    """The Markdown table and sentences of every section of one results folder."""
    out = []
    ablation = ablation_of(folder)  # read once: every section filters it
    for section in collect(ExportSource(folder)):
        verdicts = method_verdicts(section)
        out += [
            f"### {section.dataset} ({section.preset}), from `{folder}`",
            "",
            "| method | seeds | size (mean ± sd) | in the grid's band | epochs | "
            "test FID vs grid [95% CI] | recon. loss vs grid [95% CI] | budget-bound |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for v in verdicts:
            size = f"{v.size.mean:.1f} ± {v.size.sd:.1f}" if v.size.n > 1 else f"{v.size.mean:g}"
            band = f"{v.in_band} of {v.band_seeds}" if v.band_seeds else "no band"
            bound = (
                f"{len(v.budget_bound)} of {len(v.sizes)}"
                if v.method in ("adaptive", "retrain")
                else "-"
            )
            out.append(
                f"| {v.label} | {len(v.sizes)} | {size} | {band} | {v.epochs.mean:.0f} | "
                f"{_diff(v, 'test_fid')} | {_diff(v, 'test_recon_loss')} | {bound} |"
            )
        out += [""] + [f"- {s}" for s in sentences(section, verdicts)]
        out += [f"- {cost_line(section, ablation)}", ""]
        out += _ablation(section, ablation, folder)
    return "\n".join(out)


def cost_line(section, ablation) -> str:  # noqa: ANN001
    """What the protocol cost on this machine: every method's compute (a search's trials
    summed) times its seeds, and the ablation's runs, in wall-clock and epochs."""
    rows = method_rows(section)
    seconds = sum(r.compute_s[0] * r.n_seeds for r in rows)
    epochs = sum(r.epochs[0] * r.n_seeds for r in rows)
    runs = [r for r in ablation if r.params.get("config.dataset") == section.dataset]
    seconds += sum(r.metrics.get("wall_clock_s", 0.0) for r in runs)
    epochs += sum(r.metrics.get(EPOCHS_METRIC, 0.0) for r in runs)
    return (
        f"What the protocol cost: {epochs:,.0f} training epochs, {duration(seconds)} of "
        f"wall-clock with one worker (every method's runs over its seeds"
        + (f", and the ablation's {len(runs)} runs" if runs else "")
        + "; on this machine, shared, so read the epochs)."
    )


def _vs(row: AblationRow, metric: str) -> str:
    d = row.diffs.get(metric)
    if d is None:
        return "(reference)"
    if metric == "final_latent_dim" or not d.interval.has_interval:
        return d.interval.text(1)
    return f"{d.interval.text()} {d.word}"


def _ablation(section, runs, folder: str) -> list[str]:  # noqa: ANN001
    rows = ablation_rows(section, runs)
    if not rows:
        return []
    out = [
        f"#### The stop rule's ablation, {section.dataset}, from `{folder}-ablation`",
        "",
        "| stop rule | seeds | size (mean ± sd) | rule fired | stop epoch | "
        "size vs published [95% CI] | test FID vs published [95% CI] | "
        "recon. loss vs published [95% CI] |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        stop = f"{r.stopped_at.mean:.0f}" if r.stopped_at.n else "-"
        out.append(
            f"| {r.rule} | {r.seeds} | {r.size.mean:.1f} ± {r.size.sd:.1f} | "
            f"{r.fired} of {r.seeds} | {stop} | {_vs(r, 'final_latent_dim')} | "
            f"{_vs(r, 'test_fid')} | {_vs(r, 'test_recon_loss')} |"
        )
    return [*out, ""]


def main() -> int:
    if len(sys.argv) < 2:
        print(__doc__.strip().splitlines()[0], file=sys.stderr)
        return 2
    for folder in sys.argv[1:]:
        print(table(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
