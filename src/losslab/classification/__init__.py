"""Classification losses: softmax/categorical and binary cross-entropy, hinge, squared hinge, and the
soft-target floor (entropies and KL divergences).

Names say what the first argument holds (DESIGN.md §3): ``softmax_*`` and ``sigmoid_*`` losses take logits,
``categorical_*`` and ``binary_*`` losses take probabilities (clipped to ``[eps, 1 - eps]`` as Keras does). There
are no ``from_logits`` flags.

Shapes: categorical losses take scores ``(N, C, *)`` with classes on dim 1 and targets that are either class
indices ``(N, *)`` (integer dtype) or probabilities ``(N, C, *)`` (floating); ``reduction="none"`` returns one value
per sample ``(N, *)``. Binary and hinge losses are element-wise: ``target`` has the shape of the input and
``reduction="none"`` returns one value per element.

Cross-entropy with soft targets does not reach 0 at its minimum: its minimum, at prediction == target, is the
entropy of the target. :func:`binary_entropy` / :func:`categorical_entropy` give that floor and
:func:`binary_kl_divergence` / :func:`categorical_kl_divergence` the cross-entropy minus the floor, which is 0
exactly when the prediction equals the target.

The family is split by kind: :mod:`.categorical`, :mod:`.binary`, :mod:`.hinge`, :mod:`.divergence`, the
noisy-label losses in :mod:`.noisy`, the imbalance losses in :mod:`.imbalance` and the multi-class margin losses in
:mod:`.margin`; shared argument handling is in :mod:`._common` and :mod:`._class_terms`.
"""

from __future__ import annotations

from . import binary, categorical, divergence, hinge, imbalance, margin, noisy
from .binary import *  # noqa: F401,F403
from .categorical import *  # noqa: F401,F403
from .divergence import *  # noqa: F401,F403
from .hinge import *  # noqa: F401,F403
from .imbalance import *  # noqa: F401,F403
from .margin import *  # noqa: F401,F403
from .noisy import *  # noqa: F401,F403

__all__ = [
    *categorical.__all__, *binary.__all__, *hinge.__all__, *divergence.__all__,
    *noisy.__all__, *imbalance.__all__, *margin.__all__,
]
