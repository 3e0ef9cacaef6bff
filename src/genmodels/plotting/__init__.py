"""Pictures a user looks at: sample grids, training curves, latent maps, manifolds and synthetic tables."""

from genmodels.plotting.curves import plot_training_curves
from genmodels.plotting.grids import image_grid, save_image_grid, save_labelled_grid, save_reconstructions
from genmodels.plotting.latent import plot_latent_map, save_manifold_grid
from genmodels.plotting.points import plot_points
from genmodels.plotting.tables import plot_correlations, plot_marginals

__all__ = [
    "image_grid",
    "plot_correlations",
    "plot_latent_map",
    "plot_marginals",
    "plot_points",
    "plot_training_curves",
    "save_image_grid",
    "save_labelled_grid",
    "save_manifold_grid",
    "save_reconstructions",
]
