"""How much the verdict depends on the selection rule and on FID noise. Pure: works on
collected run views.

- The project's rule (benchmark.selection) averages four min-max normalised validation
  signals; it is this project's choice, not the paper's. Each single signal is an
  equally defensible rule, so the report shows the grid's choice, its test quality and
  the adaptive model's rank under each of them.
- A FID difference smaller than the real-vs-real floor at the same sample count is not
  evidence: the grid sizes whose validation FIDs (of samples and of reconstructions)
  both lie within the floor of the best size's are ones the FID signals cannot tell
  apart.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.methods import adaptive as adaptive_method
from benchmark.report.collect import VAL_SIGNALS, SearchView, Section, SeedResult, mean_sd
from benchmark.selection import SIGNALS, select_latent_dim

RULES: dict[str, tuple[str, ...]] = {
    "all four signals (this project's rule)": tuple(SIGNALS),
    "reconstruction loss only": ("val_recon_loss",),
    "FID of samples only": ("val_fid",),
    "FID of reconstructions only": ("val_fid_recon",),
    "silhouette only": ("val_silhouette",),
}
FID_SIGNALS = ("val_fid", "val_fid_recon")
ADAPTIVE = adaptive_method.METHOD.name


@dataclass
class RuleOutcome:
    """One rule over the seeds: the grid's choice and test quality per seed, and the
    adaptive model's rank among the grid's sizes plus itself."""

    rule: str
    choices: list[int]
    test_fid: tuple[float, float]
    test_recon_loss: tuple[float, float]
    adaptive_ranks: list[tuple[int, int]]
    # the rule's signals that no run logged (silhouette without labels): left out
    skipped: tuple[str, ...] = ()


def _logged(metrics: dict[str, float], key: str) -> bool:
    """Whether a run has a real value of ``key`` (runs of datasets without labels have no
    silhouette, or a NaN one)."""
    value = metrics.get(key)
    return value is not None and value == value


def _candidates(
    view: SearchView, signals: tuple[str, ...] = VAL_SIGNALS
) -> dict[int, dict[str, float]]:
    """{size: {signal: value}} of the grid's finished sizes that logged every signal."""
    out = {}
    for size in view.sizes():
        trial = view.trial_for(size)
        if trial is not None and all(_logged(trial.metrics, k) for k in signals):
            out[size] = {k: trial.metrics[k] for k in signals}
    return out


def available_signals(seed: SeedResult) -> tuple[str, ...]:
    """The validation signals that every finished grid size (and the adaptive run, if
    any) of the seed logged: a dataset without labels has no silhouette, and a rule
    cannot average a signal some candidates lack, so the rules skip it."""
    runs = [seed.adaptive] if seed.adaptive is not None else []
    if seed.grid is not None:
        runs += [t for t in (seed.grid.trial_for(s) for s in seed.grid.sizes()) if t]
    return tuple(k for k in VAL_SIGNALS if runs and all(_logged(r.metrics, k) for r in runs))


def adaptive_rank(seed: SeedResult, signals: tuple[str, ...]) -> tuple[int, int] | None:
    """(rank, number of candidates) of the seed's adaptive model among the grid's sizes
    plus itself under the rule over those of ``signals`` that every candidate logged;
    None without both, or without any such signal."""
    if seed.adaptive is None or seed.grid is None:
        return None
    signals = tuple(k for k in signals if k in available_signals(seed))
    if not signals:
        return None
    candidates: dict[str, dict[str, float]] = {
        f"grid {size}": row for size, row in _candidates(seed.grid, signals).items()
    }
    if not candidates:
        return None
    candidates["adaptive"] = {k: seed.adaptive.metrics[k] for k in signals}
    scores = select_latent_dim(candidates, signals).scores
    better = sum(1 for c, v in scores.items() if c != "adaptive" and v > scores["adaptive"])
    return 1 + better, len(candidates)


def rule_outcomes(section: Section) -> list[RuleOutcome]:
    """The grid's choice under every rule of :data:`RULES`, per seed with a grid. A
    rule's signals that the grid's sizes did not log are left out (``skipped``); a rule
    left with none (silhouette only, without labels) is left out."""
    outcomes = []
    seeds = [s for s in section.seeds if s.grid is not None and s.grid.sizes()]
    logged = {s.seed: _grid_signals(s.grid) for s in seeds}
    seeds = [s for s in seeds if logged[s.seed]]
    if not seeds:
        return outcomes
    for rule, wanted in RULES.items():
        signals = tuple(k for k in wanted if all(k in logged[s.seed] for s in seeds))
        if not signals:
            continue
        choices, fids, recons, ranks = [], [], [], []
        for s in seeds:
            size = select_latent_dim(_candidates(s.grid, signals), signals).best_latent_dim
            choices.append(size)
            trial = s.grid.trial_for(size)
            if trial is not None and _logged(trial.metrics, "test_fid"):
                fids.append(trial.metrics["test_fid"])
            if trial is not None and _logged(trial.metrics, "test_recon_loss"):
                recons.append(trial.metrics["test_recon_loss"])
            rank = adaptive_rank(s, signals)
            if rank is not None:
                ranks.append(rank)
        skipped = tuple(k for k in wanted if k not in signals)
        outcomes.append(RuleOutcome(rule, choices, mean_sd(fids), mean_sd(recons), ranks, skipped))
    return outcomes


def _grid_signals(view: SearchView) -> tuple[str, ...]:
    """The validation signals that every finished size of the grid logged."""
    trials = [t for t in (view.trial_for(s) for s in view.sizes()) if t is not None]
    return tuple(k for k in VAL_SIGNALS if trials and all(_logged(t.metrics, k) for t in trials))


@dataclass
class FidTies:
    """For one seed: the grid sizes whose validation FIDs the floor cannot separate from
    the best size's, and whether the adaptive run's final size lies within their range."""

    seed: int
    sizes: list[int]
    adaptive_size: int | None

    @property
    def low(self) -> int:
        return min(self.sizes)

    @property
    def high(self) -> int:
        return max(self.sizes)

    @property
    def adaptive_within(self) -> bool | None:
        """None when there is no adaptive size or no tied size to compare with."""
        if self.adaptive_size is None or not self.sizes:
            return None
        return self.low <= self.adaptive_size <= self.high


def fid_ties(section: Section) -> list[FidTies]:
    """Per seed with a grid, the sizes within the validation FID floor on both FID
    signals (empty when the section has no floor)."""
    floor = section.val_fid_floor
    out = []
    if floor is None:
        return out
    for s in section.seeds:
        if s.grid is None:
            continue
        rows = _candidates(s.grid, FID_SIGNALS)
        if not rows:
            continue
        best = {k: min(r[k] for r in rows.values()) for k in FID_SIGNALS}
        tied = [
            size for size, r in rows.items() if all(r[k] - best[k] <= floor for k in FID_SIGNALS)
        ]
        adaptive = (
            round(s.adaptive.metrics["final_latent_dim"])
            if s.adaptive is not None and "final_latent_dim" in s.adaptive.metrics
            else None
        )
        out.append(FidTies(s.seed, sorted(tied), adaptive))
    return out


def floor_sentences(
    section: Section, adaptive_fid: float | None, grid_fid: float | None
) -> list[str]:
    """What the floors say about the FIDs of this section."""
    lines = []
    if section.test_fid_floor is None:
        return ["FID floors: not logged by these runs (runs from before floors existed)."]
    lines.append(
        f"FID floor (real vs real images, same extractor and sample count): validation "
        f"{section.val_fid_floor:.2f} at n={section.fid_val_samples}, test "
        f"{section.test_fid_floor:.2f} at n={section.fid_test_samples}."
    )
    if adaptive_fid is not None and grid_fid is not None:
        gap = abs(adaptive_fid - grid_fid)
        within = "within" if gap <= section.test_fid_floor else "larger than"
        lines.append(
            f"The test FID gap between ALD-VAE and the grid's model ({gap:.2f}) is {within} "
            f"the test floor ({section.test_fid_floor:.2f})."
        )
    for t in fid_ties(section):
        if not t.sizes:
            lines.append(
                f"Seed {t.seed}: no grid size is within the validation floor of the best on "
                "both FID signals (the best sizes differ by more than the noise)."
            )
            continue
        where = {True: "inside", False: "outside", None: "-"}[t.adaptive_within]
        lines.append(
            f"Seed {t.seed}: grid sizes whose validation FIDs lie within the floor of the best: "
            f"{', '.join(map(str, t.sizes))} (range {t.low}-{t.high}); the adaptive size "
            f"{t.adaptive_size} is {where} that range."
        )
    return lines


# Metric prefix of a model's own validation signals where its run logged the whole
# trained model's as val_* (`ordered`: the selected prefix's, benchmark.jobs.rivals).
SELECTED_SIGNAL_PREFIX = "selected_"


def model_signals(seed: SeedResult, method: str) -> dict[str, float] | None:
    """The validation signals of the model ``method`` hands over on this seed: the
    adaptive run's last epoch, a study's selected trial, a rival's evaluated run (the
    selected prefix's where it logged them); None when the method did not run."""
    if method == ADAPTIVE and seed.adaptive is not None:
        return dict(seed.adaptive.metrics)
    view = seed.searches.get(method)
    if view is not None:
        trial = view.trial_for(view.best_latent_dim)
        return None if trial is None else dict(trial.metrics)
    rival = seed.rivals.get(method)
    if rival is None:
        return None
    metrics = rival.evaluated.metrics
    if all(SELECTED_SIGNAL_PREFIX + k in metrics for k in VAL_SIGNALS):
        return {k: metrics[SELECTED_SIGNAL_PREFIX + k] for k in VAL_SIGNALS}
    return dict(metrics)


def rule_rank(seed: SeedResult, model: dict[str, float]) -> tuple[int, int] | None:
    """(rank, number of candidates) of a model with validation signals ``model`` among
    the seed's grid sizes plus itself, under the project's rule over the signals every
    candidate logged; None without a grid or such a signal."""
    if seed.grid is None:
        return None
    signals = tuple(k for k in _grid_signals(seed.grid) if _logged(model, k))
    candidates: dict[str, dict[str, float]] = {
        f"grid {size}": row for size, row in _candidates(seed.grid, signals).items()
    }
    if not signals or not candidates:
        return None
    candidates["model"] = {k: model[k] for k in signals}
    scores = select_latent_dim(candidates, signals).scores
    better = sum(1 for c, v in scores.items() if c != "model" and v > scores["model"])
    return 1 + better, len(candidates)
