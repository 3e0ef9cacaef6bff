"""Molecules to files: SMILES lists, CSV with properties, SDF, a grid picture, property distributions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from rdkit import Chem
from rdkit.Chem import Draw

from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS, molecule_properties
from genmodels.applications.molecules.smiles import parse
from genmodels.errors import ConfigError
from genmodels.io.files import atomic_path, write_text_atomic


def write_smiles(smiles: list[str], path: str | Path) -> Path:
    write_text_atomic(path, "\n".join(smiles) + "\n")
    return Path(path)


def properties_table(smiles: list[str]) -> pd.DataFrame:
    """One row per molecule: SMILES, validity and every property (empty for invalid ones)."""
    rows = []
    for text in smiles:
        properties = molecule_properties(text)
        rows.append({"smiles": text, "valid": properties is not None, **(properties or {})})
    return pd.DataFrame(rows, columns=["smiles", "valid", *PROPERTY_FUNCTIONS])


def write_sdf(smiles: list[str], path: str | Path) -> Path:
    """Valid molecules as an SD file, each with its SMILES as the name."""
    with atomic_path(Path(path)) as temporary:
        writer = Chem.SDWriter(str(temporary))
        for text in smiles:
            molecule = parse(text)
            if molecule is not None:
                molecule.SetProp("_Name", text)
                writer.write(molecule)
        writer.close()
    return Path(path)


def draw_grid(smiles: list[str], path: str | Path, columns: int = 6, legends: list[str] | None = None) -> Path:
    """The molecules that parse, ``columns`` to a row (fewer when there are fewer), so the canvas fits them."""
    molecules = [(parse(text), legend) for text, legend in zip(smiles, legends or smiles, strict=True)]
    molecules = [(molecule, legend) for molecule, legend in molecules if molecule is not None]
    if not molecules:
        raise ConfigError(f"none of the {len(smiles)} SMILES to draw is a valid molecule; {path} was not written")
    image = Draw.MolsToGridImage(
        [molecule for molecule, _ in molecules], molsPerRow=min(columns, len(molecules)), subImgSize=(250, 200),
        legends=[legend[:40] for _, legend in molecules],
    )  # fmt: skip
    image.save(str(path))
    return Path(path)


def plot_property_distributions(
    generated: dict[str, np.ndarray], reference: dict[str, np.ndarray], path: str | Path
) -> Path:
    """Histograms of each property of valid generated and reference molecules, as MOSES plots them."""
    figure = Figure(figsize=(4.0 * len(PROPERTY_FUNCTIONS), 3.2), layout="constrained")
    for axis, name in zip(figure.subplots(1, len(PROPERTY_FUNCTIONS)), PROPERTY_FUNCTIONS, strict=True):
        values = [np.asarray(properties[name]) for properties in (reference, generated)]
        bins = np.histogram_bin_edges(np.concatenate(values), bins=40)
        for data, label in zip(values, ("reference", "generated"), strict=True):
            axis.hist(data, bins=bins, density=True, alpha=0.55, label=label)
        axis.set_title(name)
        axis.legend()
    figure.savefig(path, dpi=110)
    return Path(path)


def write_design_outputs(
    directory: Path, top: list[tuple[str, float]], curve: list[dict[str, float]], known: set[str]
) -> None:
    """What every design run leaves: ``top.csv`` (scores, properties, novelty), ``top.png``, ``curve.csv/png``."""
    table = properties_table([smiles for smiles, _ in top])
    table.insert(1, "objective", [value for _, value in top])
    table["novel"] = [smiles not in known for smiles in table["smiles"]]
    write_text_atomic(directory / "top.csv", table.to_csv(index=False))
    curve_table = pd.DataFrame(curve, columns=["calls", "top1_mean", "top10_mean", "top100_mean"])
    write_text_atomic(directory / "curve.csv", curve_table.to_csv(index=False))
    plot_score_curve(curve_table, directory / "curve.png")
    if top:
        draw_grid(table["smiles"].tolist()[:24], directory / "top.png",
                  legends=[f"{value:.3f}" for value in table["objective"][:24]])  # fmt: skip


def plot_score_curve(curve: pd.DataFrame, path: str | Path) -> Path:
    """Mean score of the best 1, 10 and 100 molecules against oracle calls: how fast a design run finds them."""
    figure = Figure(figsize=(6.0, 4.0), layout="constrained")
    axis = figure.subplots()
    for column in ("top1_mean", "top10_mean", "top100_mean"):
        axis.plot(curve["calls"], curve[column], label=column.replace("_mean", " mean").replace("top", "top-"))
    axis.set_xlabel("oracle calls (distinct molecules scored)")
    axis.set_ylabel("objective")
    axis.legend()
    figure.savefig(path, dpi=110)
    return Path(path)
