"""Ensembles of saved models: mixtures, votes (members, critic, realism; Borda or majority; strata) and rejection."""

from genmodels.ensembles.ensemble import Ensemble, EnsembleConfig, ensemble_of

__all__ = ["Ensemble", "EnsembleConfig", "ensemble_of"]
