"""Pictures that explain themselves: curves in a grid, labelled image grids, histograms that spread, tight molecules."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from genmodels.cli.main import app
from genmodels.plotting import plot_training_curves, save_labelled_grid, save_reconstructions
from genmodels.plotting.anomaly import plot_score_histogram, score_scale
from genmodels.plotting.curves import PANEL_COLUMNS, curve_panels
from genmodels.plotting.grids import CELL_PIXELS

runner = CliRunner()
TINY = ["--max-steps", "20", "--batch-size", "32", "--val-every", "10", "--checkpoint-every", "10", "--no-progress"]
LATENT_DIMS = 16


def write_history(path, latent_dims: int = LATENT_DIMS) -> None:
    """A conv-VAE-like history: loss equal to negative_elbo, and a KL column per latent dimension."""
    kl_columns = [f"kl_dim_{index}" for index in range(latent_dims)]
    columns = ["step", "split", "kl", "loss", "negative_elbo", "reconstruction", "active_units", *kl_columns]
    with path.open("w", newline="") as stream:
        writer = csv.DictWriter(stream, [*columns, "learning_rate", "seconds"])
        writer.writeheader()
        for step in (10, 20, 30):
            loss = 300.0 / step
            writer.writerow({"step": step, "split": "train", "kl": 1.0, "loss": loss, "negative_elbo": loss,
                             "reconstruction": loss - 1, "learning_rate": 1e-3, "seconds": step})  # fmt: skip
            kl = {name: 0.1 * index for index, name in enumerate(kl_columns)}
            writer.writerow({"step": step, "split": "validation", "kl": 1.1, "loss": loss + 1,
                             "negative_elbo": loss + 1, "reconstruction": loss, "active_units": 3, **kl})  # fmt: skip


def test_per_dimension_metrics_share_a_panel_and_twins_are_drawn_once(tmp_path):
    write_history(tmp_path / "history.csv")
    with (tmp_path / "history.csv").open() as stream:
        panels = curve_panels(list(csv.DictReader(stream)))
    titles = [title for title, _ in panels]
    assert titles == ["kl", "loss = negative_elbo", "reconstruction", "active_units", "kl per dimension"]
    assert len(panels[-1][1]) == LATENT_DIMS


def test_training_curves_are_a_grid_of_at_most_three_panels_a_row(tmp_path):
    write_history(tmp_path / "history.csv")
    picture = Image.open(plot_training_curves(tmp_path / "history.csv", tmp_path / "curves.png"))
    width, height = picture.size
    assert width == PANEL_COLUMNS * 4 * 110  # three panels of 4 inches at 110 dpi, however many dimensions
    assert height == 2 * 3 * 110  # five panels: two rows
    assert width / height < 2.5


def test_score_histograms_switch_to_a_log_or_rank_axis_when_outliers_dwarf_the_spread(tmp_path):
    rng = np.random.default_rng(0)
    normal = rng.normal(100.0, 10.0, 500)
    assert score_scale(normal) == "linear"
    assert score_scale(np.exp(rng.normal(0.0, 3.0, 500))) == "log"
    with_outlier = np.concatenate([normal, [3.7e7]])
    assert score_scale(with_outlier) == "rank"
    assert score_scale(np.concatenate([normal - 100.0, [-3.7e7]])) == "rank"
    is_anomaly = np.zeros(len(with_outlier), dtype=bool)
    is_anomaly[-50:] = True
    path = plot_score_histogram(with_outlier, is_anomaly, tmp_path / "score_histogram.png", threshold=130.0)
    assert Image.open(path).size == (605, 385)


def test_reconstructions_put_each_original_above_its_reconstruction_and_say_so(tmp_path):
    pairs = torch.rand(2 * 20, 1, 28, 28)
    picture = Image.open(save_reconstructions(pairs, tmp_path / "reconstructions.png", columns=16))
    width, height = picture.size
    assert width >= 16 * CELL_PIXELS and height >= 4 * CELL_PIXELS  # two original rows, two reconstruction rows
    assert width < 16 * CELL_PIXELS + 300


def test_a_labelled_strip_gives_every_image_a_readable_size(tmp_path):
    strip = torch.rand(10, 1, 28, 28)
    labels = ["image 3", *[f"{f:.2f}" for f in np.linspace(0, 1, 10)[1:-1]], "image 17"]
    path = save_labelled_grid(strip, tmp_path / "strip.png", 10, column_labels=labels, title="linear interpolation")
    width, height = Image.open(path).size
    assert width >= 0.75 * 10 * CELL_PIXELS and height >= CELL_PIXELS + 40  # room for the title and labels
    assert width > 546 and height > 60  # the old bare strip's size


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "vae"
    arguments = ["train", "vae", "--data", "digits", "-o", str(run_dir), "--final-eval", "none", *TINY]
    result = runner.invoke(app, [*arguments, "--set", "model.latent_dim=4"])
    assert result.exit_code == 0, result.output
    return run_dir


def test_a_run_writes_a_gridded_curve_picture_and_labelled_reconstructions(vae_run):
    curves = Image.open(vae_run / "training_curves.png")
    assert curves.size[0] <= PANEL_COLUMNS * 4 * 110
    reconstructions = Image.open(vae_run / "reconstructions.png")
    assert reconstructions.size[0] >= 16 * CELL_PIXELS


def test_interpolate_and_traverse_write_labelled_pictures_of_a_readable_size(vae_run, tmp_path):
    strip, traversal = tmp_path / "strip.png", tmp_path / "traversal.png"
    result = runner.invoke(app, ["interpolate", str(vae_run), "--index", "3", "17", "-o", str(strip)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["traverse", str(vae_run), "--index", "5", "-o", str(traversal)])
    assert result.exit_code == 0, result.output
    readable = 0.75 * CELL_PIXELS  # what an image keeps of its cell once the labels have their margins
    assert Image.open(strip).size[0] >= 10 * readable
    width, height = Image.open(traversal).size
    assert width >= 9 * readable and height >= 4 * readable  # nine values, four latent dimensions


def test_a_molecule_grid_is_as_wide_as_its_molecules(tmp_path):
    pytest.importorskip("rdkit")
    from genmodels.applications.molecules.outputs import draw_grid

    assert Image.open(draw_grid(["CCO"], tmp_path / "one.png")).size == (250, 200)
    assert Image.open(draw_grid(["CCO", "c1ccccc1", "CC(=O)O"], tmp_path / "three.png")).size == (750, 200)
    with pytest.raises(ValueError, match="none of the 1 SMILES"):
        draw_grid(["not a molecule"], tmp_path / "none.png")
