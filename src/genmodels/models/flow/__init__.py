"""Normalizing flows: exact likelihoods through invertible maps (zuko's spline and autoregressive
transforms over vectors and tables, normflows' multi-scale Glow over images)."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "ImageFlow": "genmodels.models.flow.image",
    "ImageFlowConfig": "genmodels.models.flow.image",
    "Flow": "genmodels.models.flow.vector",
    "FlowConfig": "genmodels.models.flow.vector",
    "TabularFlow": "genmodels.models.flow.tabular",
    "TabularFlowConfig": "genmodels.models.flow.tabular",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
