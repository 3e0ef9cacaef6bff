"""Diffusion and flow matching: a denoising network, a noise path, and the samplers and likelihood they share."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "DenoisingConfig": "genmodels.models.diffusion.base",
    "DenoisingModel": "genmodels.models.diffusion.base",
    "Diffusion": "genmodels.models.diffusion.diffusion",
    "DiffusionConfig": "genmodels.models.diffusion.diffusion",
    "FlowMatching": "genmodels.models.diffusion.flow_matching",
    "FlowMatchingConfig": "genmodels.models.diffusion.flow_matching",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
