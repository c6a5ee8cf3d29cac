"""The stop rule's ablation on hand-made runs: each variant against the published rule
on the same seeds (paired differences checked against scipy), the rule's firing
counted, runs of another dataset left out, and the page drawn only when there are runs;
and a report from a results folder with its ``-ablation`` companion has the page."""

from __future__ import annotations

import math
import statistics

import matplotlib.pyplot as plt
import pytest
from scipy import stats

from benchmark.report.ablation import ABLATION_TAG, PUBLISHED, ablation_rows
from benchmark.report.collect import RunView, Section, SeedResult
from benchmark.report.pages.ablation_page import ablation_page

PUBLISHED_RUNS = {1: (20.0, 30.0, 100.0), 2: (24.0, 31.0, 101.0), 3: (16.0, 29.0, 99.0)}
NO_FID = {1: (26.0, 33.0, 100.5), 2: (30.0, 34.2, 101.0), 3: (18.0, 31.8, 99.2)}


def _run(seed: int, values: tuple, tags: dict, dataset: str = "digits") -> RunView:
    size, fid, recon = values
    return RunView(
        f"{seed}-{tags}-{values}",
        "adaptive",
        dataset,
        seed,
        "quick",
        "FINISHED",
        seed,
        {"benchmark.method": "adaptive"} | tags,
        {},
        {
            "final_latent_dim": size,
            "test_fid": fid,
            "test_recon_loss": recon,
            "epochs_trained": 200.0,
        },
    )


def _section() -> Section:
    seeds = [
        SeedResult(s, adaptive=_run(s, v, {"benchmark.stopped_epoch": str(100 + s)}))
        for s, v in PUBLISHED_RUNS.items()
    ]
    return Section("digits", "quick", seeds)


def _variants() -> list[RunView]:
    runs = [
        # seed 3's no-fid run never fired its rule: budget-bound
        _run(s, v, {ABLATION_TAG: "no-fid"} | ({} if s == 3 else {"benchmark.stopped_epoch": "90"}))
        for s, v in NO_FID.items()
    ]
    runs.append(_run(1, (8.0, 40.0, 90.0), {ABLATION_TAG: "no-fid"}, dataset="mnist5k"))
    runs.append(_run(2, (12.0, 30.0, 100.0), {ABLATION_TAG: "no-silhouette",
                                              "benchmark.stopped_epoch": "80"}))  # fmt: skip
    return runs


def test_each_variant_is_paired_with_the_published_rule_on_its_seeds():
    rows = ablation_rows(_section(), _variants())
    assert [r.rule for r in rows] == [PUBLISHED, "no-fid", "no-silhouette"]
    published, no_fid, no_sil = rows
    assert published.sizes == {1: 20.0, 2: 24.0, 3: 16.0} and published.fired == 3
    assert published.stopped_at.mean == pytest.approx(102.0)
    # the mnist5k run is another section's
    assert no_fid.sizes == {1: 26.0, 2: 30.0, 3: 18.0} and no_fid.fired == 2
    assert no_fid.stopped_at.n == 2 and no_fid.epochs.mean == 200.0
    diffs = [NO_FID[s][1] - PUBLISHED_RUNS[s][1] for s in (1, 2, 3)]
    d = no_fid.diffs["test_fid"]
    assert d.per_seed == pytest.approx(dict(zip((1, 2, 3), diffs, strict=True)))
    half = stats.t.ppf(0.975, 2) * statistics.stdev(diffs) / math.sqrt(3)
    mean = statistics.fmean(diffs)
    assert (d.interval.low, d.interval.high) == pytest.approx((mean - half, mean + half))
    assert d.word == "worse"  # every seed's FID rose: the interval excludes 0
    assert no_fid.diffs["final_latent_dim"].interval.mean == pytest.approx(14 / 3)
    # one seed: a difference without an interval
    assert no_sil.seeds == 1 and not no_sil.diffs["test_fid"].interval.has_interval


def test_no_ablation_run_no_rows_and_no_page():
    assert ablation_rows(_section(), []) == []
    assert ablation_page(_section(), []) is None


def test_the_page_shows_every_rule_its_firing_and_the_words():
    fig = ablation_page(_section(), ablation_rows(_section(), _variants()))
    text = " ".join(t.get_text() for t in fig.findobj(plt.Text))
    cells = [
        c.get_text().get_text()
        for ax in fig.axes
        for t in ax.tables
        for c in t.get_celld().values()
    ]
    text += " " + " ".join(cells)
    plt.close(fig)
    for words in (PUBLISHED, "no-fid", "no-silhouette", "2 of 3", "worse", "1 seed: no interval"):
        assert words in text, words


def _write_folder(folder, rows: list[dict]) -> None:  # noqa: ANN001
    import json

    folder.mkdir()
    (folder / "seed1.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


def _row(run_id: str, tags: dict, histories: dict) -> dict:
    return {
        "run_id": run_id,
        "status": "FINISHED",
        "start_time": 1,
        "end_time": 2,
        "tags": {
            "benchmark.method": "adaptive",
            "benchmark.dataset": "digits",
            "benchmark.seed": "1",
            "benchmark.preset": "quick",
        }
        | tags,  # fmt: skip
        "params": {},
        "metrics": {"final_latent_dim": 6.0, "test_fid": 1.0, "test_recon_loss": 2.0},
        "histories": histories,
        "files": {},
    }


def test_a_results_folders_ablation_companion_is_read_with_its_epochs(tmp_path):
    from benchmark.report.write import ablation_of

    verdict = tmp_path / "verdict-x"
    _write_folder(verdict, [_row("main", {}, {})])
    assert ablation_of(str(verdict)) == []  # no companion folder: no ablation
    steps = {"latent_dim": [[1, 8.0], [2, 8.0], [3, 6.0]]}
    _write_folder(
        tmp_path / "verdict-x-ablation",
        [_row("a", {ABLATION_TAG: "no-fid"}, steps), _row("f", {"benchmark.method": "fixed"}, {})],
    )
    (run,) = ablation_of(str(verdict))  # the adaptive one; its epochs from its history
    assert run.run_id == "a" and run.metrics["epochs_trained"] == 3.0
