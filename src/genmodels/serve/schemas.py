"""The typed requests and responses of the HTTP API, from which FastAPI writes the OpenAPI schema at ``/docs``."""

from __future__ import annotations

from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field

DataKind = Literal["images", "text", "molecules", "table", "vectors"]


class Request(BaseModel):
    """Requests refuse unknown fields, so a misspelt control is a 422 naming it, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SampleRequest(Request):
    n: int = Field(16, ge=1, description="Samples to draw; at most the server's --max-samples.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="The same seed gives the same samples.")
    format: Literal["png", "json"] = Field(
        "json", description="Images and molecules: png (a grid picture) or json; text and tables: json."
    )
    labels: int | None = Field(None, ge=0, description="Class of every sample (conditional models).")
    temperature: float | None = Field(None, gt=0, le=10, description="Sequence models and the SMILES VAE.")
    top_k: int | None = Field(None, ge=1, description="Sequence models: sample from the k likeliest tokens.")
    top_p: float | None = Field(None, gt=0, le=1, description="Sequence models: nucleus mass.")
    truncation: float | None = Field(None, gt=0, le=10, description="GANs: truncate the latent normal to [-t, t].")
    max_length: int | None = Field(None, ge=1, description="Molecules from a sequence model: most tokens per line.")

    def controls(self) -> dict[str, Any]:
        """The model controls this request sets (the sample count, seed, format and length excluded)."""
        return {name: value for name in CONTROL_FIELDS if (value := getattr(self, name)) is not None}


CONTROL_FIELDS = ("labels", "temperature", "top_k", "top_p", "truncation")


class GenerateRequest(Request):
    prompt: str = Field("", max_length=100_000, description="Text to continue.")
    max_new_tokens: int = Field(200, ge=0, description="Most tokens to generate; at most the server's --max-tokens.")
    temperature: float = Field(1.0, ge=0, le=10, description="0: always the likeliest token.")
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    stop: list[str] = Field(default_factory=list, max_length=16, description="End at this text (not included).")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)
    stream: bool = Field(True, description="Server-sent events token by token, or one JSON answer.")


class RowsRequest(Request):
    rows: list[dict[str, Any]] | list[str] | list[Any] = Field(
        ...,
        min_length=1,
        description="Table rows as objects (column: value), SMILES or text lines as strings, "
        "or arrays of shape data_shape (images in [0, 1]).",
    )
    labels: list[int] | None = Field(None, description="log_prob of a conditional model: the class of each row.")


class ModelCapabilities(BaseModel):
    sample: bool
    log_prob: bool
    score: bool
    generate: bool
    labels: bool
    guidance: bool
    detector: bool
    controls: list[str]


class ModelInfo(BaseModel):
    name: str
    family: str
    data_kind: DataKind
    data_shape: list[int]
    log_prob_kind: str
    num_classes: int | None
    columns: list[str] | None = Field(None, description="Table models: the columns a scored row needs.")
    capabilities: ModelCapabilities
    config: dict[str, Any]
    provenance: dict[str, Any]


class ImageSamples(BaseModel):
    kind: Literal["images"] = "images"
    shape: list[int]
    samples: list[Any] = Field(description="Nested lists (n, *data_shape), pixels in [0, 1].")


class TextSamples(BaseModel):
    kind: Literal["text"] = "text"
    texts: list[str]


class Molecule(BaseModel):
    smiles: str
    valid: bool
    properties: dict[str, float | None]


class MoleculeSamples(BaseModel):
    kind: Literal["molecules"] = "molecules"
    molecules: list[Molecule]
    valid_fraction: float


class TableSamples(BaseModel):
    kind: Literal["table"] = "table"
    columns: list[str]
    rows: list[dict[str, Any]]


SampleResponse = Union[ImageSamples, TextSamples, MoleculeSamples, TableSamples]


class GenerateResponse(BaseModel):
    text: str = Field(description="The prompt and its continuation.")
    new_text: str


class ScoredRow(BaseModel):
    row: int
    score: float
    flag: bool | None = Field(None, description="Above the detector's threshold (with a saved detector).")
    rank: int = Field(description="1 = most anomalous.")
    columns: dict[str, float] | None = Field(None, description="Table models: each column's share of the NLL.")


class ScoreResponse(BaseModel):
    score: str = Field(description="The anomaly score used (higher = more anomalous).")
    threshold: float | None
    flagged: int | None
    rows: list[ScoredRow]


class LogProbResponse(BaseModel):
    log_prob_kind: str = Field(description="exact, importance_weighted, elbo: what the values are.")
    log_prob: list[float]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    models: list[str]
