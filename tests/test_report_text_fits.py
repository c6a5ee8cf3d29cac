"""No text runs off any page: a report of 8 methods over 5 seeds, built from hand-made
run views (no training, no tracking store), page by page the way write_pdf builds them;
every visible text box of every figure must lie inside its page. Matplotlib drops text
that overflows when it saves, so the figures are checked drawn, before saving."""

from __future__ import annotations

import hashlib
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from benchmark.methods import active_units, ard, halving, hyperband, ordered
from benchmark.report.collect import RETRAIN_ROLE, SELECTION_ROLE, _rival_views
from benchmark.report.pdf import figures_of, section_pages
from benchmark.report.summary import method_rows
from benchmark.report.views import RunView, SearchView, Section, SeedResult
from benchmark.tracking.tags import SELECTION_METHOD_TAG

SEEDS = (1, 2, 3, 4, 5)
GRID_SIZES = (4, 8, 12, 16, 20, 24, 32, 48, 64)


def run_id(*parts: object) -> str:
    """A 32-hex run id, as MLflow makes them (the provenance page prints them whole)."""
    return hashlib.md5(repr(parts).encode()).hexdigest()


def _run(
    method: str, seed: int, metrics: dict, *, params=None, tags=None, key="", status="FINISHED"
) -> RunView:  # noqa: ANN001, E501
    return RunView(
        run_id(method, seed, key),
        method,
        "mnist5k",
        seed,
        "paper",
        status,
        seed * 1000 + len(key),
        {
            "benchmark.hardware": "AMD EPYC (2 cores)",
            "benchmark.device": "cpu",
            "benchmark.versions": "python=3.11.7 torch=2.4.1 mlflow=3.1.0 numpy=2.1.0",
            "benchmark.stopped_epoch": "150",
        }
        | (tags or {}),
        {"search.n_workers": "1", "data.train_size": "3749"} | (params or {}),
        metrics,
        seed * 1000 + 500,
    )


def _model(size: int, seed: int, wall: float) -> dict[str, float]:
    """A trained model's signals, test metrics (rate and distortion consistent with the
    ELBO) and costs."""
    recon = 95.0 + 60.0 / size + seed * 0.3
    kl = 12.0 + min(size, 12) * 0.6
    return {
        "val_recon_loss": recon + 1,
        "val_fid": 10.0 + abs(size - 16) / 4 + seed * 0.1,
        "val_fid_recon": 4.0 + abs(size - 12) / 8,
        "val_silhouette": 0.1 - size / 1000,
        "test_recon_loss": recon,
        "test_elbo": -(recon + kl),
        "test_fid": 12.0 + abs(size - 16) / 4,
        "test_fid_recon": 5.0 + abs(size - 12) / 8,
        "test_silhouette": 0.1 - size / 1000,
        "test_cluster_acc": 0.55 + seed / 100,
        "test_active_units": float(min(size, 10)),
        "final_latent_dim": float(size),
        "wall_clock_s": wall,
        "cpu_time_s": wall * 1.9,
        "epochs_trained": 200.0,
    }


def _search(kind: str, seed: int, best: int) -> SearchView:
    trials = [
        _run(
            "fixed",
            seed,
            _model(size, seed, 150.0),
            params={"fixed_latent_dim": str(size)},
            tags={"benchmark.trial_number": str(i)},
            key=f"{kind}-{size}",
        )
        for i, size in enumerate(GRID_SIZES)
    ]
    parent = _run(
        "gridsearch",
        seed,
        {
            "best_latent_dim": float(best),
            "sum_trial_wall_clock_s": 1350.0 + seed,
            "sum_trial_cpu_time_s": 2600.0,
            "wall_clock_s": 1400.0,
        }
        | {f"best_latent_dim_{k}": 16.0 for k in ("val_fid", "val_recon_loss")},
        tags={"benchmark.search": kind},
        key=f"{kind}-parent",
    )
    return SearchView(kind, f"mnist5k-paper-seed{seed}-{kind}", [parent], trials)


def _rival(name: str, seed: int, size: int, retrains: bool) -> list[RunView]:
    tags = {SELECTION_METHOD_TAG: name}
    first = _run(
        "fixed",
        seed,
        _model(size, seed, 180.0),
        tags=tags | ({"benchmark.role": SELECTION_ROLE} if retrains else {}),
        key=name,
    )
    if not retrains:
        return [first]
    retrain = _run(
        "fixed",
        seed,
        _model(size - 2, seed, 170.0),
        tags=tags | {"benchmark.role": RETRAIN_ROLE, "benchmark.retrain_of": first.run_id},
        key=f"{name}-retrain",
    )
    return [first, retrain]


def many_methods_section(seeds: tuple[int, ...] = SEEDS) -> Section:
    """8 methods (ALD-VAE, grid, halving, hyperband, active units, ordered, ARD and the
    retrain at ALD-VAE's size) over ``seeds``, with 32-hex run ids and long study names."""
    out = []
    for seed in seeds:
        adaptive_size = 14 + 4 * seed
        result = SeedResult(
            seed,
            adaptive=_run("adaptive", seed, _model(adaptive_size, seed, 180.0 + 20 * seed)),
            retrain=_run(
                "fixed",
                seed,
                _model(adaptive_size, seed, 200.0),
                params={"fixed_latent_dim": str(adaptive_size)},
                key="retrain",
            ),
        )
        result.grid = _search("grid", seed, 8 if seed % 2 else 16)
        result.halving = _search(halving.METHOD.name, seed, 16)
        result.searches = {
            "grid": result.grid,
            halving.METHOD.name: result.halving,
            hyperband.METHOD.name: _search(hyperband.METHOD.name, seed, 12),
        }
        result.rivals = _rival_views(
            _rival(active_units.METHOD.name, seed, 10, True)
            + _rival(ordered.METHOD.name, seed, 8, False)
            + _rival(ard.METHOD.name, seed, 11, True)
        )
        out.append(result)
    section = Section("mnist5k", "paper", out, fid_backend="domain")
    section.fid_val_samples, section.fid_test_samples = "100", "750"
    section.val_fid_floor, section.test_fid_floor = 2.85, 0.5
    return section


class FakeSource:
    """What the pages read besides the run views: short metric histories, no history
    artifact, no images."""

    label = "the results folder results/verdict-mnist5k"

    def metric_history(self, run_id: str, key: str) -> list[tuple[int, float]]:
        if key == "latent_dim":
            return [(e, 64.0 - e // 2) for e in range(1, 41)]
        return [(e, 100.0 / e + 5) for e in range(1, 41)]

    def history_frame(self, run_id: str) -> None:
        return None

    def image(self, run_id: str, name: str, folder: Path) -> None:
        return None


def drawn_texts(fig: Figure) -> list[Text]:
    """Every text the figure draws: its own texts and title, legends, each axes' title,
    labels, texts, tick labels inside the view, and table cells."""
    renderer = fig.canvas.get_renderer()
    fig.draw(renderer)
    texts = list(fig.texts)
    if fig._suptitle is not None:
        texts.append(fig._suptitle)
    legends = list(fig.legends)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        texts += list(ax.texts)
        if ax.get_legend() is not None:
            legends.append(ax.get_legend())
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks():
                if low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                    texts += [tick.label1, tick.label2]
        for table in ax.tables:
            texts += [cell.get_text() for cell in table.get_celld().values()]
    for legend in legends:
        texts += [*legend.get_texts(), legend.get_title()]
    return [t for t in texts if t.get_visible() and t.get_text().strip()]


def off_page(fig: Figure) -> list[str]:
    """The texts (as "text: where") whose drawn box leaves the page."""
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    out = []
    for text in drawn_texts(fig):
        box = text.get_window_extent(renderer)
        clip = text.get_clip_box() if text.get_clip_on() else None
        if clip is not None:  # only the part inside its axes is drawn
            box = Bbox.intersection(box, clip)
            if box is None:
                continue
        if (
            box.x0 < page.x0 - 1
            or box.y0 < page.y0 - 1
            or box.x1 > page.x1 + 1
            or box.y1 > page.y1 + 1
        ):
            out.append(f"{text.get_text()[:60]!r}: {box.bounds}")
    return out


@pytest.fixture(scope="module")
def section() -> Section:
    return many_methods_section()


def _page_names() -> list[str]:
    section = many_methods_section((1,))
    return [name for name, _ in section_pages(section, [], "x", FakeSource())]


@pytest.mark.parametrize("name", _page_names())
def test_no_text_runs_off_any_page_of_8_methods_over_5_seeds(section, name):
    rows = method_rows(section)
    assert len(rows) == 8 and all(r.n_seeds == 5 for r in rows)
    pages = dict(section_pages(section, rows, "verdict-mnist5k", FakeSource()))
    figures = figures_of(pages[name]())
    try:
        for number, fig in enumerate(figures, start=1):
            assert not off_page(fig), f"page {name} ({number} of {len(figures)}) runs off"
    finally:
        for fig in figures:
            plt.close(fig)


def test_the_check_sees_text_off_the_page():
    fig = plt.figure(figsize=(4, 3))
    fig.text(0.5, -0.05, "below the foot")
    ax = fig.add_subplot()
    ax.set_title("inside")
    try:
        assert [line.split(":")[0] for line in off_page(fig)] == ["'below the foot'"]
    finally:
        plt.close(fig)


def test_every_run_id_is_on_the_provenance_pages(section):
    pages = dict(section_pages(section, method_rows(section), "exp", FakeSource()))
    figures = figures_of(pages["provenance"]())
    text = "\n".join(t.get_text() for fig in figures for t in fig.texts)
    for fig in figures:
        plt.close(fig)
    ids = [
        r.run_id
        for s in section.seeds
        for r in (
            [s.adaptive, s.retrain]
            + [p for v in s.searches.values() for p in v.parents]
            + [r for v in s.rivals.values() for r in v.runs]
        )
    ]
    assert len(ids) == 5 * 10
    assert all(i in text for i in ids)
    assert len(figures) >= 2
