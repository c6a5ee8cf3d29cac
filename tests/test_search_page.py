"""The page per search: one panel per seed, every trial's curve, a cross where each was
pruned (read from its tag), the rungs drawn."""

from __future__ import annotations

import matplotlib.pyplot as plt

from benchmark.report.collect import RunView, SearchView, Section, SeedResult
from benchmark.report.pages.search_page import pruned_epoch, search_page


class _Source:
    label = "test"

    def __init__(self, curves: dict[str, list[tuple[int, float]]]) -> None:
        self.curves = curves

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        return self.curves.get(run_id, []) if key == "val_fid" else []


def _trial(seed: int, number: int, size: int, pruned_at: int | None) -> RunView:
    tags = {"benchmark.trial_number": str(number)}
    if pruned_at is not None:
        tags["benchmark.stopped_early"] = f"pruned by successive halving at epoch {pruned_at}"
    return RunView(
        f"s{seed}t{number}",
        "fixed",
        "digits",
        seed,
        "quick",
        "KILLED" if pruned_at else "FINISHED",
        number,
        tags,
        {"fixed_latent_dim": str(size)},
        {},
    )


def test_pruned_epoch_reads_the_tag():
    assert pruned_epoch({"benchmark.stopped_early": "pruned by hyperband at epoch 25"}) == 25
    assert pruned_epoch({}) is None


def test_one_panel_per_seed_with_every_trial_and_its_prune_mark():
    seeds, curves = [], {}
    for seed in (1, 2):
        trials = [_trial(seed, 0, 16, None), _trial(seed, 1, 8, 3), _trial(seed, 2, 4, 3)]
        for t in trials:
            end = pruned_epoch(t.tags) or 6
            curves[t.run_id] = [
                (e, 50.0 - e - int(t.params["fixed_latent_dim"])) for e in range(1, end + 1)
            ]
        parent = RunView(
            f"p{seed}",
            "gridsearch",
            "digits",
            seed,
            "quick",
            "FINISHED",
            0,
            {},
            {},
            {"best_latent_dim": 16.0},
        )
        view = SearchView("halving", f"s{seed}", [parent], trials)
        seeds.append(SeedResult(seed, halving=view, searches={"halving": view}))
    section = Section("digits", "quick", seeds)
    section.val_fid_floor = 1.5
    fig = search_page(section, _Source(curves), "halving")
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in panels] == [
        "seed 1: selected n_z=16",
        "seed 2: selected n_z=16",
    ]
    for ax in panels:
        crosses = [line for line in ax.lines if line.get_marker() == "x"]
        assert len(crosses) == 2 and all(list(c.get_xdata()) == [3] for c in crosses)
        assert any(list(line.get_xdata()) == [3, 3] for line in ax.lines)  # the rung
    assert search_page(section, _Source(curves), "tpe") is None
    plt.close(fig)
