"""`twonn`: the intrinsic dimension of the training images by TwoNN (Facco, d'Errico,
Rodriguez, Laio, Estimating the intrinsic dimension of datasets by a minimal
neighborhood information, Sci. Rep. 2017), rounded, as the latent size; then one
fixed-size VAE trained at that size is the model that is evaluated. No VAE is trained
to choose the size; the estimate's time counts in the method's compute.

The estimate is scikit-dimension's ``TwoNN`` (its defaults: the linear fit of the
paper, the largest 10% of the neighbour-distance ratios discarded) on the flattened
pixels of at most ``MAX_IMAGES`` training images, a seeded class-stratified sample: the
nearest-neighbour search grows with the square of the count, and the estimate is
stable well below the full MNIST training set.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from benchmark.methods.base import Kind, Method, SizeChoice

if TYPE_CHECKING:
    from benchmark.config import RunConfig
    from benchmark.data.splits import Split

# The most training images the estimate reads (our choice; see the docstring).
MAX_IMAGES = 10_000


def twonn_size(train: Split, cfg: RunConfig, max_images: int = MAX_IMAGES) -> SizeChoice:
    """The TwoNN intrinsic dimension of (a seeded, stratified sample of) the training
    images, rounded, at least 1; the estimate and the image count as params."""
    # imported here: the registry, which the report imports, loads neither
    import skdim

    from benchmark.data.sampling import stratified_sample

    idx = stratified_sample(train.y, max_images, cfg.seed)
    x = train.x[idx].reshape(len(idx), -1).double().cpu().numpy()
    try:
        dimension = float(skdim.id.TwoNN().fit(x).dimension_)
    except ValueError as exc:  # e.g. fewer than two distinct images
        raise ValueError(f"TwoNN estimated no dimension from {len(idx)} images: {exc}") from None
    if not dimension > 0:  # NaN or 0: too few distinct images to estimate from
        raise ValueError(f"TwoNN estimated dimension {dimension} from {len(idx)} images")
    return SizeChoice(
        max(1, round(dimension)), {"dimension": round(dimension, 4), "images": len(idx)}
    )


METHOD = Method(
    name="twonn",
    label="TwoNN intrinsic dim.",
    kind=Kind.DATA_RULE,
    compute=(
        "The TwoNN estimate on the training images, plus the one fixed-size training at "
        "its rounded dimension."
    ),
    source=(
        "Facco, d'Errico, Rodriguez, Laio, Estimating the intrinsic dimension of datasets "
        "by a minimal neighborhood information, Sci. Rep. 2017 (scikit-dimension's TwoNN)"
    ),
    order=9,
    size_of_data=twonn_size,
)
