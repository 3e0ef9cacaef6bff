"""Ensembles of saved models: mixtures, votes (members, critic, realism; Borda or majority; strata) and rejection."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "EnsembleConfig": "genmodels.ensembles.config",
    "Ensemble": "genmodels.ensembles.ensemble",
    "ensemble_of": "genmodels.ensembles.ensemble",
    "trained_on_binarized": "genmodels.ensembles.ensemble",
    "borda_count": "genmodels.ensembles.vote",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
