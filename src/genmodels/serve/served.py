"""A loaded run as the server sees it: what it can do, and its inputs and outputs in the forms HTTP carries.

Everything goes through the common model interface (``sample``, ``log_prob``, ``score``, the
``sampling_controls`` a family names) and the same helpers the command line writes files with,
so a request and the matching CLI command give the same numbers.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genmodels.applications.anomaly import Detector
from genmodels.applications.anomaly.detector import DETECTOR_FILE
from genmodels.applications.anomaly.rows import encode_table, read_rows, scored_rows
from genmodels.data.tabular import TABLE_SUFFIXES
from genmodels.errors import DataError
from genmodels.models.base import GenerativeModel, load
from genmodels.models.saving import CONFIG_NAME, read_config
from genmodels.serve import schemas

MOLECULE_SOURCES = (".smi", ".smiles", "moses")
LINE_SUFFIXES = (".smi", ".smiles", ".txt")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")


class RequestError(ValueError):
    """A request the server refuses, naming the field (``loc``) at fault; answered with ``status``."""

    def __init__(self, loc: Sequence[str | int], message: str, status: int = 422) -> None:
        super().__init__(message)
        self.loc, self.message, self.status = list(loc), message, status


@dataclass
class ServedModel:
    name: str
    path: Path
    model: GenerativeModel
    detector: Detector | None
    data_kind: str
    saved: dict[str, Any] = field(repr=False)

    @classmethod
    def load(cls, name: str, path: Path) -> ServedModel:
        model = load(path)
        model_dir = path if (path / CONFIG_NAME).is_file() else path / "model"
        saved = read_config(model_dir)
        detector_dir = next((d for d in (path, model_dir) if (d / DETECTOR_FILE).is_file()), None)
        detector = Detector.load(model, detector_dir) if detector_dir is not None else None
        return cls(name, path, model, detector, _data_kind(model, saved), saved)

    # --- what the model is ------------------------------------------------------------------
    @property
    def controls(self) -> tuple[str, ...]:
        if self.data_kind == "molecules":
            return ("temperature",)
        accepted = self.model.sampling_controls
        named = [name for name in schemas.CONTROL_FIELDS if accepted is None or name in accepted]
        return tuple(name for name in named if name != "labels" or self.model.is_conditional)

    @property
    def is_text_like(self) -> bool:
        return self.data_kind in ("text", "molecules")

    def info(self) -> schemas.ModelInfo:
        model = self.model
        num_classes = getattr(model.config, "num_classes", None) or None
        preprocessor = getattr(model, "preprocessor", None)
        columns = [*preprocessor.numeric_columns, *preprocessor.categorical_columns] if preprocessor else None
        provenance = {key: value for key, value in self.saved.items() if key not in ("config", "model_type")}
        return schemas.ModelInfo(
            name=self.name,
            family=model.model_type,
            data_kind=self.data_kind,  # type: ignore[arg-type]
            data_shape=list(model.config.data_shape),
            log_prob_kind=model.log_prob_kind,
            num_classes=num_classes if model.is_conditional else None,
            columns=columns,
            capabilities=schemas.ModelCapabilities(
                sample=True,
                log_prob=model.log_prob_kind != "none",
                score=True,
                generate=self.data_kind == "text" and hasattr(model, "generate_tokens"),
                labels=model.is_conditional,
                guidance=False,
                detector=self.detector is not None,
                controls=list(self.controls),
            ),
            config=model.config.to_dict(),
            provenance={"run": str(self.path), **provenance},
        )

    # --- sampling ---------------------------------------------------------------------------
    def check_controls(self, request: schemas.SampleRequest) -> dict[str, Any]:
        """The request's controls, each one the model takes; labels within the model's classes."""
        controls = request.controls()
        for name in controls:
            if name not in self.controls:
                takes = ", ".join(self.controls) or "none"
                raise RequestError(["body", name], f"model {self.name!r} does not take {name}; it takes: {takes}")
        if "labels" in controls:
            classes = getattr(self.model.config, "num_classes", 0)
            if not self.model.is_conditional or controls["labels"] >= classes:
                raise RequestError(["body", "labels"], f"labels must be a class in [0, {classes})")
        if request.max_length is not None and self.data_kind != "molecules":
            raise RequestError(["body", "max_length"], "max_length applies to molecule models only")
        return controls

    def sampler(self, request: schemas.SampleRequest) -> tuple[tuple, Callable[[int, torch.Generator], Any]]:
        """A batching key (requests of the same key share a pass) and ``draw(n, generator)`` for the request."""
        controls = self.check_controls(request)
        key = (self.name, tuple(sorted(controls.items())), request.max_length)
        if self.data_kind == "molecules":
            from genmodels.applications.molecules.generation import sample_strings

            length = request.max_length or 120
            temperature = controls.get("temperature", 1.0)
            return key, lambda n, generator: sample_strings(
                self.model, n, length, temperature, batch_size=n, generator=generator
            )
        return key, lambda n, generator: self.model.sample(n, generator, **controls)

    def render_samples(self, rows: Any, request: schemas.SampleRequest) -> schemas.SampleResponse | bytes:
        """One request's samples as the response body: a model, or PNG bytes."""
        if self.data_kind == "molecules":
            from genmodels.applications.molecules.generation import as_smiles, representation_of
            from genmodels.applications.molecules.outputs import draw_grid, properties_table

            smiles = as_smiles(list(rows), representation_of(self.model))
            table = properties_table(smiles)
            if request.format == "png":
                with tempfile.TemporaryDirectory() as folder:
                    return draw_grid(
                        table.loc[table["valid"], "smiles"].tolist(), Path(folder) / "grid.png"
                    ).read_bytes()
            return _molecule_samples(table)
        if request.format == "png" and self.data_kind != "images":
            raise RequestError(
                ["body", "format"], f"format png is for images and molecules; {self.name!r} holds {self.data_kind}"
            )
        if self.data_kind == "images":
            if request.format == "png":
                from genmodels.plotting.grids import grid_picture

                buffer = io.BytesIO()
                grid_picture(rows).save(buffer, format="PNG", compress_level=1)  # fast; grids compress well anyway
                return buffer.getvalue()
            return schemas.ImageSamples(shape=list(rows.shape), samples=rows.cpu().tolist())
        if self.data_kind == "text":
            tokenizer = self.model.tokenizer
            return schemas.TextSamples(texts=[tokenizer.decode(row.tolist()) for row in rows])
        if self.data_kind == "table":
            frame = self.model.preprocessor.inverse_transform(rows, torch.Generator().manual_seed(request.seed))
            return schemas.TableSamples(columns=list(frame.columns), rows=_records(frame))
        return schemas.ImageSamples(shape=list(rows.shape), samples=rows.cpu().tolist())

    # --- rows to score ----------------------------------------------------------------------
    def rows_from_json(self, rows: list[Any]) -> tuple[torch.Tensor | list[str], pd.DataFrame | None]:
        loc = ["body", "rows"]
        if self.is_text_like:
            if not all(isinstance(row, str) for row in rows):
                raise RequestError(loc, f"{self.name!r} scores lines of text: give rows as strings")
            return list(rows), None
        if self.data_kind == "table":
            if not all(isinstance(row, dict) for row in rows):
                raise RequestError(loc, "a table model scores rows given as objects {column: value}")
            table = pd.DataFrame.from_records(rows)
            try:
                return encode_table(self.model, table, "rows"), table
            except DataError as error:
                raise RequestError(loc, _short(str(error))) from None
        try:
            x = torch.tensor(rows, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as error:
            raise RequestError(
                loc, f"rows must be arrays of numbers of shape {list(self.model.config.data_shape)}: {error}"
            ) from None
        return self._checked(x, loc), None

    def rows_from_files(
        self, files: Sequence[tuple[str, bytes]]
    ) -> tuple[torch.Tensor | list[str], pd.DataFrame | None]:
        """Uploaded rows: one table, .npy array or line file, or any number of image files."""
        loc = ["body", "file"]
        suffixes = {Path(name).suffix.lower() for name, _ in files}
        if suffixes <= set(IMAGE_SUFFIXES):
            return self._checked(self._images(files), loc), None
        if len(files) != 1:
            raise RequestError(loc, "upload one table, .npy array or line file (or several image files)")
        name, content = files[0]
        suffix = Path(name).suffix.lower()
        if suffix in LINE_SUFFIXES and self.is_text_like:
            return [line for line in content.decode("utf-8", errors="replace").splitlines() if line.strip()], None
        if suffix not in (*TABLE_SUFFIXES, ".npy"):
            raise RequestError(loc, f"{name}: give a .csv/.parquet table, a .npy array, images or a .smi/.txt file")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"upload{suffix}"
            path.write_bytes(content)
            try:
                x, raw = read_rows(self.model, path)
            except DataError as error:
                raise RequestError(loc, f"{name}: {_short(str(error).replace(str(path), name))}") from None
        return (x if raw is not None else self._checked(x, loc)), raw

    def _images(self, files: Sequence[tuple[str, bytes]]) -> torch.Tensor:
        from PIL import Image, UnidentifiedImageError

        channels, height, width = self.model.config.data_shape if self.data_kind == "images" else (0, 0, 0)
        if not channels:
            raise RequestError(["body", "file"], f"{self.name!r} holds {self.data_kind}, not images")
        pictures = []
        for name, content in files:
            try:
                picture = Image.open(io.BytesIO(content)).convert("L" if channels == 1 else "RGB")
            except (UnidentifiedImageError, OSError) as error:
                raise RequestError(["body", "file"], f"{name} is not a readable image: {error}") from None
            if picture.size != (width, height):
                raise RequestError(
                    ["body", "file"],
                    f"{name} is {picture.size[0]}x{picture.size[1]}; the model takes {width}x{height} images",
                )
            pixels = np.asarray(picture, dtype=np.float32) / 255.0
            pictures.append(pixels[None] if channels == 1 else pixels.transpose(2, 0, 1))
        return torch.from_numpy(np.stack(pictures))

    def _checked(self, x: torch.Tensor, loc: list[str]) -> torch.Tensor:
        expected = tuple(self.model.config.data_shape)
        if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise RequestError(
                loc, f"rows have shape {list(x.shape[1:])}; the model takes rows of shape {list(expected)}"
            )
        if not torch.isfinite(x).all():
            raise RequestError(loc, "rows hold NaN or infinite values")
        return x

    # --- scores -----------------------------------------------------------------------------
    def score(self, x: torch.Tensor | list[str], raw: pd.DataFrame | None) -> schemas.ScoreResponse:
        if self.model.is_conditional:
            raise RequestError(
                ["path", "name"], f"{self.name!r} is conditional: its scores need labels; use log_prob", 400
            )
        if isinstance(x, list):
            values = -self._line_log_likelihood(x)
            ranks = (-values).argsort(kind="stable").argsort() + 1
            rows = [
                schemas.ScoredRow(row=row, score=float(value), rank=int(rank))
                for row, (value, rank) in enumerate(zip(values, ranks, strict=True))
            ]
            return schemas.ScoreResponse(score="nll_per_token", threshold=None, flagged=None, rows=rows)
        detector = self.detector or Detector(self.model, score=next(iter(self.model.anomaly_scores())))
        table = scored_rows(detector, x, per_column=raw is not None)
        column_names = [name for name in table.columns if name.startswith("nll:")]
        rows = [
            schemas.ScoredRow(
                row=int(record["row"]), score=float(record["score"]), rank=int(record["rank"]),
                flag=bool(record["flag"]) if self.detector is not None else None,
                columns={name[4:]: float(record[name]) for name in column_names} or None,
            )
            for record in table.to_dict("records")
        ]  # fmt: skip
        threshold = self.detector.threshold if self.detector is not None else None
        flagged = int(table["flag"].sum()) if self.detector is not None else None
        return schemas.ScoreResponse(score=detector.score_name, threshold=threshold, flagged=flagged, rows=rows)

    def log_prob(self, x: torch.Tensor | list[str], labels: list[int] | None = None) -> schemas.LogProbResponse:
        if self.model.log_prob_kind == "none":
            raise RequestError(
                ["path", "name"],
                f"{self.name!r} is an implicit model ({self.model.model_type}) and has no likelihood",
                400,
            )
        if isinstance(x, list):
            return schemas.LogProbResponse(
                log_prob_kind="exact_mean_per_token", log_prob=self._line_log_likelihood(x).tolist()
            )
        given = {}
        if self.model.is_conditional:
            classes = self.model.config.num_classes
            if labels is None or len(labels) != len(x) or not all(0 <= label < classes for label in labels):
                raise RequestError(["body", "labels"], f"a conditional model needs one label in [0, {classes}) per row")
            given["labels"] = torch.tensor(labels, device=self.model.device)
        elif labels is not None:
            raise RequestError(["body", "labels"], f"{self.name!r} is not conditional: drop labels")
        with torch.no_grad():
            values = self.model.log_prob(x.to(self.model.device), **given)
        return schemas.LogProbResponse(log_prob_kind=self.model.log_prob_kind, log_prob=values.cpu().tolist())

    def _line_log_likelihood(self, lines: list[str]) -> np.ndarray:
        from genmodels.applications.molecules.voting import line_log_likelihood

        values = line_log_likelihood(self.model, lines)
        too_long = np.flatnonzero(~np.isfinite(values)).tolist()
        if too_long:
            raise RequestError(["body", "rows"], f"rows {too_long[:5]} are longer than the model's context")
        return values


def _data_kind(model: GenerativeModel, saved: dict[str, Any]) -> str:
    """images, text, molecules, table or vectors: how the server reads and writes this model's rows."""
    if getattr(model, "preprocessor", None) is not None:
        return "table"
    if hasattr(model, "rows_to_strings"):
        return "molecules"
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is not None:
        source = str(saved.get("data", {}).get("source", "")).lower()
        is_molecules = getattr(tokenizer, "kind", None) == "selfies" or source.endswith(MOLECULE_SOURCES)
        return "molecules" if is_molecules else "text"
    return "images" if len(model.config.data_shape) == 3 else "vectors"


def _molecule_samples(table: pd.DataFrame) -> schemas.MoleculeSamples:
    properties = [name for name in table.columns if name not in ("smiles", "valid")]
    molecules = [
        schemas.Molecule(smiles=record["smiles"], valid=bool(record["valid"]),
                         properties={name: _number(record[name]) for name in properties})
        for record in table.to_dict("records")
    ]  # fmt: skip
    return schemas.MoleculeSamples(molecules=molecules, valid_fraction=float(table["valid"].mean()))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{name: _number(value) if isinstance(value, float) else value for name, value in record.items()}
            for record in frame.to_dict("records")]  # fmt: skip


def _number(value: Any) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def _short(message: str) -> str:
    return message.splitlines()[0] if message else message
