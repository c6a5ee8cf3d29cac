"""The first page of a section: the table of methods, the verdict in sentences, and a
warning where timings are noise-dominated."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from matplotlib.figure import Figure

from benchmark.report.collect import Section
from benchmark.report.compute import MEASURE_WORDS
from benchmark.report.numbers import NOT_APPLICABLE, duration, fmt, noisy
from benchmark.report.pages.layout import CAPTION_WIDTH, WARNING_COLOUR, caption, page, styled_table
from benchmark.report.summary import RATE, MethodRow, noise_warnings, verdict

# page fractions per line of the verdict's sentences (10 pt) and of the caption (9 pt)
LINE_STEP = 0.032
CAPTION_STEP = 0.02
# the compute column names its measure in a word that fits the column
MEASURE_SHORT = {"wall_clock": "wall-clock", "cpu_time": "CPU", "gpu_time": "GPU"}


def _columns(measure: str) -> list[tuple[str, Callable[[MethodRow], str], float]]:
    """(header, cell of a row, relative width) of the value columns: the size, the cost
    (epochs trained first: the count the machine's load cannot blur; the timings beside
    it), then the test metrics, the ELBO beside its two terms."""

    def test(key: str, digits: int, integer: bool = False) -> Callable[[MethodRow], str]:
        return lambda r: fmt(r.test.get(key), digits, r.n_seeds, "\n", integer)

    return [
        ("latent\nsize", lambda r: fmt(r.latent_dim, 1, r.n_seeds, "\n", integer=True), 0.75),
        ("epochs\ntrained", lambda r: fmt(r.epochs, 0, r.n_seeds, "\n", integer=True), 0.9),
        ("time to\nanswer", lambda r: duration_cell(r.time_to_answer_s, r.n_seeds), 1.1),
        (
            f"total compute\n({MEASURE_SHORT[measure]})",
            lambda r: duration_cell(r.compute_s, r.n_seeds),
            1.4,
        ),
        (
            "compute /\nadaptive",
            lambda r: r.compute_vs_adaptive.text("\n") if r.compute_vs_adaptive else NOT_APPLICABLE,
            1.1,
        ),
        ("test\nFID", test("test_fid", 2), 0.9),
        ("test FID\nrecon", test("test_fid_recon", 2), 0.9),
        ("test\nELBO", test("test_elbo", 2), 0.95),
        ("rate\n(KL)", test(RATE, 2), 0.85),
        ("distortion\n(recon loss)", test("test_recon_loss", 2), 1.15),
        ("test\nsilhouette", test("test_silhouette", 3), 1.0),
        ("cluster\naccuracy", test("test_cluster_acc", 3), 0.95),
        ("active\nunits", test("test_active_units", 1, integer=True), 0.8),
    ]


# the timing columns (their index among the value columns) and the row's value each
# shows: a cell whose spread is noise-dominated is printed in the warning colour
TIMING_COLUMNS = {2: "time_to_answer_s", 3: "compute_s"}
# characters of a method's label per line of its cell (a longer one wraps to two lines)
LABEL_WIDTH = 18


def duration_cell(value: tuple[float, float], n_seeds: int) -> str:
    """A timing's cell in its unit (42 s, 12 min, 2.4 h: :func:`numbers.duration`), the
    spread over seeds on a second line in the same unit."""
    mean, sd = value
    if n_seeds <= 1 or sd != sd or sd <= 0:
        return duration(mean)
    text, unit = duration(mean, sd).rsplit(" ", 1)
    head, spread = text.split(" ± ")
    return f"{head} {unit}\n± {spread}"


def table_height(n_rows: int, several_seeds: bool) -> float:
    """The table's height as a fraction of the page: a two-line header, and body rows of
    two lines (mean, then ± sd) with several seeds, one line otherwise. Sized to its
    rows so the verdict follows right below it (no blank gap)."""
    return 0.07 + n_rows * (0.07 if several_seeds else 0.045)


def floors_text(section: Section) -> str:
    """ " (FID floor, real vs real: ...)" for a section whose runs logged floors."""
    if section.val_fid_floor is None or section.test_fid_floor is None:
        return ""
    return (
        f" (FID floor, real vs real: {section.val_fid_floor:.2f} validation, "
        f"{section.test_fid_floor:.2f} test)"
    )


def headline_pages(section: Section, rows: list[MethodRow], experiment: str) -> list[Figure]:
    """Table, verdict and warnings of one section: one page, or two when the sentences
    would not fit under a table of many methods."""
    measure = rows[0].measure if rows else "wall_clock"
    seeds = ", ".join(str(s.seed) for s in section.seeds)
    fig = page(f"{section.dataset} (preset {section.preset}): did one adaptive run find the size?")
    header = (
        f"Experiment {experiment!r}; seeds: {seeds} ({len(section.seeds)}); FID features: "
        f"{section.fid_backend}, {section.fid_val_samples} validation / "
        f"{section.fid_test_samples} test images{floors_text(section)}. Mean ± standard deviation "
        f"over seeds where there are several. Compute measured as {MEASURE_WORDS[measure]}."
    )
    fig.text(0.03, 0.935, "\n".join(textwrap.wrap(header, 175)), fontsize=9, va="top")
    top = 0.88
    columns = _columns(measure)
    several = any(r.n_seeds > 1 for r in rows)
    height = table_height(len(rows), several) if rows else 0.05
    ax = fig.add_axes((0.03, top - height, 0.94, height))
    ax.axis("off")
    if rows:
        cells = [
            ["\n".join(textwrap.wrap(r.label, LABEL_WIDTH)), str(r.n_seeds)]
            + [cell(r) for _, cell, _ in columns]
            for r in rows
        ]
        table = styled_table(
            ax,
            cells,
            ["method", "seeds"] + [name for name, _, _ in columns],
            [2.4, 0.65] + [w for _, _, w in columns],
            1.0,
        )
        for i, r in enumerate(rows, start=1):
            for col, attribute in TIMING_COLUMNS.items():
                if r.n_seeds > 1 and noisy(getattr(r, attribute)):
                    # the noise flag where the number is: the warnings below say why
                    table[i, 2 + col].get_text().set_color(WARNING_COLOUR)
    else:
        ax.text(0.5, 0.5, "no finished runs to compare", ha="center")
    lines = [
        (wrapped, colour)
        for line, colour in [(v, "black") for v in verdict(section, rows)]
        + [(w, WARNING_COLOUR) for w in noise_warnings(rows)]
        for wrapped in textwrap.wrap(line, 150)
    ]
    text = _caption_text(measure)
    y = top - height - 0.05
    needed = len(lines) * LINE_STEP + len(textwrap.wrap(text, CAPTION_WIDTH)) * CAPTION_STEP + 0.02
    pages = [fig]
    if y - needed < 0:
        # many methods: the sentences and the caption go on a page of their own rather
        # than off the foot of this one
        fig.text(0.03, y, "The verdict in sentences: next page.", fontsize=10, style="italic")
        fig = page(f"{section.dataset} (preset {section.preset}): the verdict in sentences")
        pages.append(fig)
        y = 0.90
    for wrapped, colour in lines:
        fig.text(0.03, y, wrapped, fontsize=10, color=colour)
        y -= LINE_STEP
    caption(fig, below=y - 0.01, text=text)
    return pages


def _caption_text(measure: str) -> str:
    return (
        "Epochs trained: the training epochs of every run a method needed, every size, "
        "pruned and stopped trials included: its cost without the machine's noise. "
        "Time to answer: elapsed wall-clock until the method names a latent size (a search: "
        "all its invocations, stopped ones included, workers in parallel; retrain: adaptive "
        "run plus retraining). "
        f"Total compute: the {MEASURE_WORDS[measure]} of its training runs summed, as one "
        "machine would spend it; a timing in red is noise-dominated (sd above half the mean). "
        "'compute / adaptive': the method's mean total compute "
        "divided by the adaptive run's mean (the table's own means); with several seeds the "
        "range of the per-seed ratios in brackets. Test ELBO = -(rate + distortion), per "
        "image in nats: rate is the KL of q(z|x) to the prior N(0, I), distortion the "
        "reconstruction loss (Bernoulli, one posterior sample). n/a: a metric these runs did "
        "not log (silhouette and cluster accuracy need labels). Test metrics are those of "
        "each method's final model from the same test-split evaluation; FIDs are comparable "
        "only within this section. Every term is defined on the report's last page."
    )
