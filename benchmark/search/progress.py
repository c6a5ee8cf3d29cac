"""Progress a person can watch: a bar for the search as a whole (sizes done out of the
grid, or trials done out of the trial budget of a sampled search such as tpe) and one
per trial (its epochs, labelled with its search, seed and size)."""

from __future__ import annotations

import multiprocessing

import optuna
from tqdm.auto import tqdm

from benchmark.search.spec import SearchSpec
from benchmark.search.trials import missing_sizes, trials_done
from benchmark.system.periodic import Periodic

# Seconds between two reads of the study by the search's bar: trials take many seconds,
# and every read is a (short) transaction on the storage the workers write to.
POLL_S = 2.0


def trial_bar(search: str, seed: int, latent_dim: int, epochs: int) -> tqdm:
    """The bar of one trial, e.g. ``grid seed=1 latent_dim=16``, counting epochs.

    A local worker process (``worker-<i>``) draws on line ``i + 1``, below the
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
    """A bar of the sizes done (finished or pruned) out of ``sizes`` or, with ``budget``
    (a sampled search, whose sizes are proposed as it goes), of the trials done (finished
    or pruned) out of ``budget``; refreshed from the study every ``interval_s`` seconds in
    a background thread while the ``with`` block runs, whichever process or machine
    trains them."""

    def __init__(
        self,
        study: optuna.Study,
        sizes: list[int],
        label: str,
        interval_s: float = POLL_S,
        budget: int | None = None,
    ) -> None:
        self._study = study
        self._sizes = list(sizes)
        self._budget = budget
        super().__init__(interval_s, "search-progress")
        total, unit = (len(self._sizes), "size") if budget is None else (budget, "trial")
        self.bar = tqdm(total=total, desc=label, unit=unit, position=0)

    def done(self) -> int:
        """Sizes done out of the grid, or trials done out of the budget."""
        if self._budget is not None:
            return trials_done(self._study)
        return len(self._sizes) - len(missing_sizes(self._study, self._sizes))

    def refresh(self) -> int:
        """Read the study once and show what is done; returns its number."""
        done = self.done()
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


def search_progress(
    study: optuna.Study, spec: SearchSpec, seed: int, interval_s: float = POLL_S
) -> SearchProgress:
    """The bar of a search: sizes done out of the grid, or for a sampled search (tpe)
    trials done out of its trial budget."""
    if spec.sampled:
        label = f"{spec.search} seed={seed}: trials done"
        return SearchProgress(study, spec.latent_sizes, label, interval_s, budget=spec.trial_budget)
    label = f"{spec.search} seed={seed}: sizes done"
    return SearchProgress(study, spec.latent_sizes, label, interval_s)
