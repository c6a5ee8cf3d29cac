"""Seeded, class-stratified samples of a split.

Splits can be ordered by class (EuroSAT and SPRITES are read class by class, MNIST's
files are not shuffled by class but nothing promises it), so a statistic over
``x[:n]`` may see a few classes only. Every sample the evaluation, the validation
signals and the pictures take comes from here instead.
"""

from __future__ import annotations

import numpy as np
import torch


def stratified_order(labels: np.ndarray | torch.Tensor, seed: int) -> np.ndarray:
    """A permutation of ``range(len(labels))`` whose every prefix is class-stratified.

    Each class's indices are shuffled (seeded) and the i-th of a class of size n_c gets
    the position key (i + u) / n_c with u uniform in [0, 1): sorting by the key
    interleaves the classes in proportion to their sizes, so the first n indices hold
    each class's share of n up to one image, and two consecutive blocks of the order
    are disjoint samples with the same class mix.
    """
    y = np.asarray(labels.cpu() if torch.is_tensor(labels) else labels).reshape(-1)
    rng = np.random.default_rng(seed)
    keys = np.empty(len(y), dtype=np.float64)
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        rng.shuffle(members)
        n_c = len(members)
        keys[members] = (np.arange(n_c) + rng.random(n_c)) / n_c
    return np.argsort(keys, kind="stable")


def stratified_sample(labels: np.ndarray | torch.Tensor, n: int, seed: int) -> np.ndarray:
    """``n`` indices (all if fewer), class-stratified and seeded: a prefix of
    :func:`stratified_order`."""
    return stratified_order(labels, seed)[: min(n, len(labels))]


def one_per_class(
    labels: np.ndarray | torch.Tensor, per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """(indices, their classes) of ``per_class`` seeded images of every class, ordered
    row by row: the first image of each class in class order, then the second, ... so a
    grid with one column per class shows class c in column c."""
    y = np.asarray(labels.cpu() if torch.is_tensor(labels) else labels).reshape(-1)
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    picks = []
    for c in classes:
        members = np.flatnonzero(y == c)
        picks.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    rows = min(len(p) for p in picks)
    idx = np.array([p[r] for r in range(rows) for p in picks], dtype=np.int64)
    return idx, y[idx]
