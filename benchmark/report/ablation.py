"""The stop rule's ablation, read from runs: ALD-VAE with each of the rule's four
signals left out in turn (runs tagged ``benchmark.ablation=no-<signal>``, trained with
``stop_signals`` without it) against the published rule (the section's own ALD-VAE
runs) on the same seeds. Pure: views in, rows out.

Per rule: final size, epochs trained, in how many seeds the rule fired (else the epoch
budget ended the run and its size is not the rule's answer), the test metrics, and the
paired per-seed differences against the published rule with their 95% t-intervals."""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmark.report.stats import Interval, PairedDifference, paired_differences, t_interval
from benchmark.report.views import EPOCHS_METRIC, STOPPED_EPOCH_TAG, RunView, Section

ABLATION_TAG = "benchmark.ablation"
PUBLISHED = "published rule"
LEFT_OUT_PREFIX = "no-"
# what the page and the table compare; lower is better for all three
ABLATION_METRICS = ("test_fid", "test_recon_loss", "final_latent_dim")


@dataclass
class AblationRow:
    """One stop rule over the seeds it ran on (``diffs``: against the published rule on
    the same seeds; empty for the published rule itself)."""

    rule: str
    sizes: dict[int, float]
    epochs: Interval
    fired: int
    # the epoch the rule stopped at, over the seeds where it fired
    stopped_at: Interval
    test: dict[str, Interval]
    diffs: dict[str, PairedDifference] = field(default_factory=dict)

    @property
    def size(self) -> Interval:
        return t_interval(list(self.sizes.values()))

    @property
    def seeds(self) -> int:
        return len(self.sizes)


def ablation_runs(views: list[RunView], section: Section) -> list[RunView]:
    """The finished ablation runs of ``section``'s dataset and preset."""
    return [
        v
        for v in views
        if v.method == "adaptive"
        and v.status == "FINISHED"
        and v.tags.get(ABLATION_TAG, "").startswith(LEFT_OUT_PREFIX)
        and v.dataset == section.dataset
        and v.preset == section.preset
    ]


def _latest_per_seed(runs: list[RunView]) -> dict[int, RunView]:
    out: dict[int, RunView] = {}
    for run in sorted(runs, key=lambda r: r.start_time):
        out[run.seed] = run
    return out


def _row(rule: str, runs: dict[int, RunView]) -> AblationRow:
    metrics = ("test_fid", "test_recon_loss")
    return AblationRow(
        rule,
        {seed: r.metrics["final_latent_dim"] for seed, r in sorted(runs.items())},
        t_interval([r.metrics.get(EPOCHS_METRIC, float("nan")) for r in runs.values()]),
        sum(1 for r in runs.values() if not r.budget_bound),
        t_interval([float(r.tags[STOPPED_EPOCH_TAG]) for r in runs.values() if not r.budget_bound]),
        {m: t_interval([r.metrics.get(m, float("nan")) for r in runs.values()]) for m in metrics},
    )


def ablation_rows(section: Section, runs: list[RunView]) -> list[AblationRow]:
    """The published rule on the seeds the ablation ran, then each variant in signal
    order, with its paired differences; empty when there is no ablation run."""
    variants: dict[str, list[RunView]] = {}
    for run in ablation_runs(runs, section):
        variants.setdefault(run.tags[ABLATION_TAG], []).append(run)
    if not variants:
        return []
    by_variant = {name: _latest_per_seed(rs) for name, rs in sorted(variants.items())}
    seeds = sorted({seed for rs in by_variant.values() for seed in rs})
    published = {
        s.seed: s.adaptive
        for s in section.seeds
        if s.seed in seeds and s.adaptive is not None and s.adaptive.status == "FINISHED"
    }
    rows = [_row(PUBLISHED, published)] if published else []
    base = {seed: r.metrics for seed, r in published.items()}
    for name, own in by_variant.items():
        row = _row(name, own)
        row.diffs = paired_differences(
            {seed: r.metrics for seed, r in own.items()}, base, ABLATION_METRICS
        )
        rows.append(row)
    return rows
