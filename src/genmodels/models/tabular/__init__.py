"""Models over preprocessed tables (numbers standardised, categories one-hot): a VAE and a MADE."""

from genmodels.models.tabular.layout import TableLayoutConfig, TableModel
from genmodels.models.tabular.made import TabularMADE, TabularMADEConfig
from genmodels.models.tabular.vae import TabularVAE, TabularVAEConfig

__all__ = ["TableLayoutConfig", "TableModel", "TabularMADE", "TabularMADEConfig", "TabularVAE", "TabularVAEConfig"]
