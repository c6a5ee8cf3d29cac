"""The report's last page: every metric and every cost column it uses, defined as the
code computes it (benchmark/metrics, benchmark/training/evaluation.py, the report's
band, stats and compute modules), so that a reader of the PDF alone can check them."""

from __future__ import annotations

import textwrap

from matplotlib.figure import Figure

from benchmark.report.compute import DEFAULT_MEASURE, MEASURE_WORDS
from benchmark.report.pages.layout import page
from benchmark.report.views import Section

# the term's column and the definition's, as page fractions; characters of 8.5 pt that
# fill the definition's width
TERM_X = 0.03
TEXT_X = 0.215
TEXT_WIDTH = 135
TOP = 0.9
FOOT = 0.03
LINE_STEP = 0.0235
GAP = 0.008  # between two definitions

QUALITY = [
    (
        "FID of samples",
        "Frechet distance between Gaussians fitted to the features of N images decoded from "
        "prior noise z ~ N(0, I) and of N real images (class-stratified, seeded); lower is "
        "better. Features from the section's extractor ({backend}). Validation FID: N = "
        "{val_n} validation images, every epoch; test FID: N = {test_n} test images and "
        "fixed noise (seed 12345), the same for every method. Comparable only at the same N "
        "and extractor.",
    ),
    (
        "FID of reconstructions",
        "The same distance for the reconstructions (Bernoulli means decoded from one "
        "posterior sample z ~ q(z|x)) of the same N reference images.",
    ),
    (
        "FID floor",
        "The FID between two disjoint samples of real images at the same N and extractor: "
        "the distance that sampling alone produces. A difference of FIDs below it is not "
        "evidence.",
    ),
    (
        "reconstruction loss",
        "The distortion: Bernoulli negative log-likelihood of an image given one "
        "posterior sample z ~ q(z|x): binary cross-entropy summed over pixels, in nats "
        "per image, averaged over the whole split; lower is better.",
    ),
    (
        "rate (KL)",
        "KL(q(z|x) || N(0, I)) summed over the latent units, in nats per image, averaged "
        "over the test split: the information the code carries about the image. Derived "
        "per run as -test ELBO - test reconstruction loss (both from the same posterior "
        "sample).",
    ),
    (
        "ELBO",
        "Evidence lower bound on log p(x): -(reconstruction loss + KL), per image, mean over "
        "the test split (nats); higher is better. -ELBO = rate + distortion is the "
        "training loss of ALD-VAE and the grid (beta = 1); ARD and ordered train on their "
        "own objectives.",
    ),
    (
        "silhouette",
        "Silhouette score (Euclidean) of one posterior sample per image under the class "
        "labels, on a class-stratified sample of the split; in [-1, 1], higher is better "
        "(codes grouped by class). n/a for data without labels.",
    ),
    (
        "cluster accuracy",
        "KMeans with one cluster per class (10 starts) on the posterior means of the whole "
        "test split, clusters matched to classes one to one (Hungarian algorithm); the "
        "share of images whose matched class is their label. n/a without labels.",
    ),
    (
        "active units",
        "Latent units whose posterior mean varies across the test split with variance above "
        "0.01 (Burda et al. 2016): the units the model uses, at most its latent size.",
    ),
]

COSTS = [
    (
        "latent size",
        "The size the method hands over: ALD-VAE's final n_z, a search's selected size, a "
        "rival's final model's size; 'from scratch at adaptive size' retrains at ALD-VAE's.",
    ),
    (
        "epochs trained",
        "Training epochs of every run the method needed to answer, every size, pruned and "
        "stopped trials included (per run the last step of its per-epoch latent size; an "
        "epoch trained again after a kill counts once). The cost without the machine's "
        "noise.",
    ),
    (
        "time to answer",
        "Elapsed wall-clock until the method names a size: a search's invocations, stopped "
        "ones included, its workers in parallel; a rival its runs one after the other; the "
        "retrain the adaptive run plus the retrain.",
    ),
    (
        "total compute",
        "The chosen measure (this report: {measure}) of every training run the method "
        "needed, summed as one machine would spend it (a search: its trials; a rule on the "
        "images adds the time it took to choose the size).",
    ),
    (
        "wall-clock / CPU / GPU time",
        "Per run: wall-clock, the elapsed seconds of the whole run, evaluation and logging "
        "included; CPU time, CPU seconds of the process and its finished children; GPU "
        "time (CUDA only), seconds this run's kernels kept the GPU busy, per process where "
        "NVML can tell.",
    ),
    (
        "compute / adaptive",
        "A method's mean total compute over the ALD-VAE run's mean; in brackets the range "
        "of the per-seed ratios.",
    ),
    (
        "noise-dominated",
        "A timing whose standard deviation over seeds is above half its mean: a difference "
        "between methods is then as likely the machine's load as the method.",
    ),
    (
        "mean ± sd, interval",
        "Mean and sample standard deviation over seeds. A difference against the grid is "
        "per seed (method - grid on the same seed) with its 95% Student-t interval; better "
        "or worse only where the interval excludes 0 ('no difference shown' otherwise).",
    ),
    (
        "the rule's score",
        "Each validation signal (reconstruction loss, FID of samples, FID of "
        "reconstructions, silhouette) min-max normalised over the grid's sizes to a "
        "goodness in [0, 1] (1 the best), then averaged; the highest score is the grid's "
        "pick (ties go to the smaller size). Test metrics never enter it.",
    ),
    (
        "band",
        "The grid sizes the grid cannot tell apart from its pick: those whose score is "
        "within 1.96 x sqrt(2) x sigma of the pick's (sigma: the seed-to-seed sd of a size's "
        "score, pooled over sizes); over seeds, the sizes whose paired score difference to "
        "the best mean score has a 95% t-interval including 0. Read as the range from its "
        "smallest to its largest size; one seed has no band.",
    ),
    (
        "budget-bound",
        "An ALD-VAE run whose stop rule never fired before the epoch budget ended: its size "
        "is where the cuts had got, not the rule's answer.",
    ),
]


def _entries(section: Section, measure: str) -> list[tuple[str, list[str]]]:
    """(term, the definition's wrapped lines), the quality metrics first."""
    values = {
        "backend": section.fid_backend or "as logged",
        "val_n": section.fid_val_samples or "the logged count of",
        "test_n": section.fid_test_samples or "the logged count of",
        "measure": MEASURE_WORDS[measure],
    }
    return [
        (term, textwrap.wrap(text.format(**values), TEXT_WIDTH)) for term, text in QUALITY + COSTS
    ]


def definitions_pages(section: Section, measure: str = DEFAULT_MEASURE) -> list[Figure]:
    """The definitions, on as many pages as they need."""
    title = f"{section.dataset}: what every metric and cost column means"
    pages: list[Figure] = []
    y = FOOT  # forces a first page
    for term, lines in _entries(section, measure):
        if y - len(lines) * LINE_STEP < FOOT:
            fig = page(title if not pages else f"{title} (continued)")
            pages.append(fig)
            y = TOP
        fig.text(TERM_X, y, term, fontsize=8.5, fontweight="bold", va="top")
        for line in lines:
            fig.text(TEXT_X, y, line, fontsize=8.5, va="top")
            y -= LINE_STEP
        y -= GAP
    return pages
