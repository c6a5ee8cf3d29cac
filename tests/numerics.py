"""How tests compare numbers a model computed. Not a test module: the test modules import
it as they import tests/commands.py.

Two kinds of equality. Copied values (parameters, optimizer state, RNG states, data
rows, a resumed run against an uninterrupted one in the same process) are equal bit for
bit by construction, and tests compare them with ``torch.equal``. Outputs that a layer
computes are not: after a cut the heads are smaller ``Linear`` layers, a rebuilt model
holds its weights in fresh tensors, and the BLAS kernel may block a narrower (or
differently aligned) product otherwise and add the same terms in another order. Such
outputs agree to float32 rounding, which is what :func:`assert_same_outputs` checks.
"""

from __future__ import annotations

import numpy as np
import torch

# float32 has a 2**-24 (6e-8) unit roundoff; a sum of a few hundred terms in another
# order moves the last bits by a few ulps, far inside 1e-6 of values of order one.
RTOL = 1e-6
ATOL = 1e-6


def assert_same_outputs(actual: torch.Tensor | np.ndarray, expected: torch.Tensor | np.ndarray):
    """``actual`` equals ``expected`` up to float32 summation order (same shape, same
    dtype, every element within :data:`RTOL` / :data:`ATOL`)."""
    torch.testing.assert_close(
        torch.as_tensor(actual), torch.as_tensor(expected), rtol=RTOL, atol=ATOL
    )
