"""Models over preprocessed tables (numbers standardised, categories one-hot): a VAE and a MADE."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "TableLayoutConfig": "genmodels.models.tabular.layout",
    "TableModel": "genmodels.models.tabular.layout",
    "TabularMADE": "genmodels.models.tabular.made",
    "TabularMADEConfig": "genmodels.models.tabular.made",
    "TabularVAE": "genmodels.models.tabular.vae",
    "TabularVAEConfig": "genmodels.models.tabular.vae",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
