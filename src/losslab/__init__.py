"""losslab: loss functions for PyTorch, with the lab that shows why they help.

Every loss is a pure function (``losslab.sigmoid_focal_loss``) with a thin ``nn.Module`` beside it
(``losslab.SigmoidFocalLoss``); ``losslab.registry`` describes them all.
"""

from __future__ import annotations

from ._checks import set_validation, validation, validation_enabled
from ._reduction import reduce_loss
from .regression import *  # noqa: F401,F403
from .regression import __all__ as _regression_all

__version__ = "0.1.0"

__all__ = [
    "set_validation",
    "validation",
    "validation_enabled",
    "reduce_loss",
    *_regression_all,
]
