"""Ensembles of saved models: mixtures, votes (members, critic, realism; Borda or majority; strata) and rejection."""

from genmodels.ensembles.config import EnsembleConfig
from genmodels.ensembles.ensemble import Ensemble, ensemble_of
from genmodels.ensembles.vote import borda_count

__all__ = ["Ensemble", "EnsembleConfig", "borda_count", "ensemble_of"]
