"""losslab: loss functions for PyTorch, with the lab that shows why they help.

Every loss is a pure function (``losslab.sigmoid_focal_loss``) with a thin ``nn.Module`` beside it
(``losslab.SigmoidFocalLoss``); ``losslab.registry`` describes them all.
"""

from __future__ import annotations

from . import boxes, classification, distance, focal, gan, image_quality, perceptual, regression, scale_invariant, segmentation, tempered
from ._checks import set_validation, validation, validation_enabled
from ._kernels import fast_paths, set_fast_paths
from ._reduction import reduce_loss

__version__ = "0.1.0"

_FAMILIES = (regression, classification, focal, tempered, boxes, segmentation, distance, gan, perceptual, image_quality, scale_invariant)

__all__ = ["set_validation", "validation", "validation_enabled", "set_fast_paths", "fast_paths", "reduce_loss"]
for _family in _FAMILIES:
    for _name in _family.__all__:
        globals()[_name] = getattr(_family, _name)
        __all__.append(_name)
del _family, _name
