"""genmodels: generative models behind one interface, trained with Lightning Fabric."""

from __future__ import annotations

from pathlib import Path

from genmodels.models import MODEL_REGISTRY, GenerativeModel, build_model, get_model_class

__version__ = "0.1.0"


def load(path: str | Path, map_location: str = "cpu") -> GenerativeModel:
    """Load a saved model: a ``save_pretrained`` directory, or a run directory (its ``model/``)."""
    path = Path(path)
    if not (path / "config.json").is_file() and (path / "model" / "config.json").is_file():
        path = path / "model"
    return GenerativeModel.from_pretrained(path, map_location=map_location)


__all__ = ["MODEL_REGISTRY", "GenerativeModel", "__version__", "build_model", "get_model_class", "load"]
