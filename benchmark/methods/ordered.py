"""`ordered`: one training with nested dropout on the latent units, then every grid size
scored as a prefix of that one model by the grid's validation signals and selection
rule; the selected prefix is the model that is evaluated, in the same run (Rippel,
Gelbart, Adams, Learning Ordered Representations with Nested Dropout, ICML 2014).

The prefix law, the training step and the cut are in
:mod:`benchmark.methods.mechanisms.nested_dropout`, which the hooks below import when
the method runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.methods.base import Kind, Method

if TYPE_CHECKING:
    from benchmark.config import RunConfig
    from benchmark.training.loop import AfterTraining
    from benchmark.training.objective import TrainingObjective


def _objective(_cfg: RunConfig) -> TrainingObjective:
    """Nested dropout on the sampled code."""
    from benchmark.methods.mechanisms.nested_dropout import NestedDropoutObjective

    return NestedDropoutObjective()


def _after_training(latent_sizes: list[int]) -> AfterTraining:
    """The grid's rule over the trained model's prefixes at the grid's sizes."""
    from benchmark.methods.mechanisms.nested_dropout import choose_prefix

    return choose_prefix(latent_sizes)


METHOD = Method(
    name="ordered",
    label="ordered (nested dropout)",
    kind=Kind.ONE_TRAINING,
    compute=(
        "The one nested-dropout training at the initial size, plus the evaluation of its "
        "prefix at every grid size (the grid's selection rule picks one)."
    ),
    source=(
        "Rippel, Gelbart, Adams, Learning Ordered Representations with Nested Dropout, ICML 2014"
    ),
    order=6,
    objective=_objective,
    after_training=_after_training,
)
