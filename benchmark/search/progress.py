"""Progress a person can watch: a bar for the search as a whole (sizes done out of the
grid) and one per trial (its epochs, labelled with its search, seed and size)."""

from __future__ import annotations

import multiprocessing

import optuna
from tqdm.auto import tqdm

from benchmark.periodic import Periodic
from benchmark.search.trials import missing_sizes

# Seconds between two reads of the study by the search's bar: trials take many seconds,
# and every read is a (short) transaction on the storage the workers write to.
POLL_S = 2.0


def trial_bar(search: str, seed: int, latent_dim: int, epochs: int) -> tqdm:
    """The bar of one trial, e.g. ``grid seed=1 latent_dim=16``, counting epochs.

    A spawned local worker (process ``worker-<i>``) draws on line ``i + 1``, below the
    search's bar; the parent's own worker on the next free line."""
    name = multiprocessing.current_process().name
    index = name.partition("-")[2]
    position = int(index) + 1 if name.startswith("worker-") and index.isdigit() else None
    return tqdm(
        total=epochs,
        desc=f"{search} seed={seed} latent_dim={latent_dim}",
        unit="epoch",
        position=position,
        leave=position is None,
    )


class SearchProgress(Periodic):
    """A bar of the sizes done (finished or pruned) out of ``sizes``, refreshed from the
    study every ``interval_s`` seconds in a background thread while the ``with`` block
    runs, whichever process or machine trains them."""

    def __init__(
        self,
        study: optuna.Study,
        sizes: list[int],
        label: str,
        interval_s: float = POLL_S,
    ) -> None:
        self._study = study
        self._sizes = list(sizes)
        super().__init__(interval_s, "search-progress")
        self.bar = tqdm(total=len(self._sizes), desc=label, unit="size", position=0)

    def refresh(self) -> int:
        """Read the study once and show the sizes done; returns their number."""
        done = len(self._sizes) - len(missing_sizes(self._study, self._sizes))
        if done != self.bar.n:
            self.bar.n = done
            self.bar.refresh()
        return done

    def tick(self) -> None:
        self.refresh()

    def finish(self, raised: bool) -> None:
        if not raised:
            self.refresh()
        self.bar.close()
