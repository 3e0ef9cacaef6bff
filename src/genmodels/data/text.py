"""Text corpora as token streams: the built-in Tiny Shakespeare, or any UTF-8 file or folder a user names.

A corpus is split contiguously by characters (train first, then validation, then test), so no
passage leaks between splits. The tokenizer is trained on the training split only; characters it
never saw become its unknown token. Text is read and encoded in chunks, and with
``DataSpec.memory_map`` the token arrays go to disk and are memory-mapped, so corpora larger
than memory train too.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from genmodels.data.spec import DataSpec, DataSplits
from genmodels.data.tokenizers import Tokenizer, train_tokenizer
from genmodels.errors import DataError

SHAKESPEARE_FILE = resources.files("genmodels.data") / "files" / "tinyshakespeare.txt.gz"
MOSES_SUBSET_FILE = resources.files("genmodels.applications.molecules") / "files" / "moses_train_20k.smi.gz"
TEXT_SUFFIXES = (".txt", ".text", ".md", ".smi")
DEFAULT_CONTEXT_LENGTH = 256
CHUNK_CHARACTERS = 1 << 20
TOKEN_CACHE = Path("~/.cache/genmodels/tokens")


def _read_gzip_text(file) -> str:
    with file.open("rb") as compressed, gzip.open(compressed, "rt", encoding="utf-8") as text:
        return text.read()


TEXT_DATASETS: dict[str, tuple[str, Callable[[], str]]] = {
    "shakespeare": (
        "Tiny Shakespeare (Karpathy's char-rnn corpus): 1,115,394 characters of the plays, shipped with genmodels",
        lambda: _read_gzip_text(SHAKESPEARE_FILE),
    ),
    "moses": (
        "MOSES training molecules (Polykovskiy et al., 2020), a seeded subset of 20,000 SMILES, one per line",
        lambda: _read_gzip_text(MOSES_SUBSET_FILE),
    ),
}


def is_text(spec: DataSpec) -> bool:
    """Text data: a built-in corpus, a ``.txt``/``.md`` file, or any path with a tokenizer chosen."""
    return spec.name in TEXT_DATASETS or spec.tokenizer is not None or Path(spec.name).suffix in TEXT_SUFFIXES


class TokenWindows:
    """Every run of ``length`` consecutive tokens of a stream; row ``i`` starts at token ``i``.

    Rows are gathered on the fly, so a training set of N tokens costs N tokens of memory (or of
    disk, when the stream is memory-mapped), not N windows.
    """

    def __init__(self, tokens: np.ndarray, length: int, device: torch.device | str = "cpu") -> None:
        if len(tokens) < length:
            raise DataError(f"{len(tokens)} tokens are fewer than one window of {length}")
        self.tokens, self.length, self.device = tokens, length, torch.device(device)
        self._offsets = np.arange(length)

    def __len__(self) -> int:
        return len(self.tokens) - self.length + 1

    def __getitem__(self, rows: torch.Tensor | slice) -> torch.Tensor:
        if isinstance(rows, slice):
            rows = torch.arange(len(self))[rows]
        starts = rows.cpu().numpy()[:, None]
        windows = self.tokens[starts + self._offsets].astype(np.int64)  # (rows, length)
        return torch.from_numpy(windows).to(self.device)

    def to(self, device: torch.device | str, **_: object) -> TokenWindows:
        """Batches are built on the host and moved; the stream itself stays where it is."""
        return TokenWindows(self.tokens, self.length, device)


@dataclass
class TextSplit:
    """One split's tokens and how many characters of text they encode (for bits per character)."""

    tokens: np.ndarray
    characters: int
    window: int
    """Tokens per row: the model's context length plus the one token after it."""
    sliding: bool = False
    """Rows are every window (for training) instead of consecutive ones that predict each token once."""
    labels = None

    def __len__(self) -> int:
        return len(self.tensors()["x"])

    def tensors(self) -> dict[str, torch.Tensor | TokenWindows]:
        if self.sliding:
            return {"x": TokenWindows(self.tokens, self.window)}
        # consecutive windows overlapping by one token: every token after the first is a target exactly once
        targets_per_row = self.window - 1
        rows = (len(self.tokens) - 1) // targets_per_row
        if rows < 1:
            raise DataError(f"a split of {len(self.tokens)} tokens is shorter than one window of {self.window}")
        starts = np.arange(rows)[:, None] * targets_per_row
        return {"x": torch.from_numpy(self.tokens[starts + np.arange(self.window)].astype(np.int64))}


@dataclass
class LineSplit:
    """One split as one row per line: ``(lines, window)`` token ids, each line framed and padded by line breaks."""

    rows: np.ndarray
    characters: int
    dropped: int
    """Lines longer than the window allows, left out."""
    labels = None

    def __len__(self) -> int:
        return len(self.rows)

    def tensors(self) -> dict[str, torch.Tensor]:
        return {"x": torch.from_numpy(self.rows.astype(np.int64))}


def line_rows(tokens: np.ndarray, line_break: int, window: int) -> tuple[np.ndarray, int]:
    """Rows ``[break, line..., break, break, ...]`` of ``window`` tokens for every non-empty line that fits."""
    breaks = np.flatnonzero(tokens == line_break)
    starts = np.concatenate([[0], breaks + 1])
    stops = np.concatenate([breaks, [len(tokens)]])
    lengths = stops - starts
    non_empty = lengths > 0
    fits = non_empty & (lengths <= window - 2)
    starts, lengths = starts[fits], lengths[fits]
    rows = np.full((len(starts), window), line_break, dtype=tokens.dtype)
    row_of_token = np.repeat(np.arange(len(starts)), lengths)
    column = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows[row_of_token, column + 1] = tokens[np.repeat(starts, lengths) + column]
    return rows, int(non_empty.sum() - fits.sum())


class Corpus:
    """A text as a sequence of characters, read in chunks: a string, or files joined by newlines."""

    def __init__(self, name: str) -> None:
        self.text: str | None = None
        self.files: list[Path] = []
        if name in TEXT_DATASETS:
            self.text, self.source = TEXT_DATASETS[name][1](), name
        else:
            path = Path(name).expanduser()
            if not path.exists():
                raise DataError(f"{name!r} is neither a built-in text corpus ({', '.join(TEXT_DATASETS)}) nor a path")
            self.source = str(path.resolve())
            self.files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.suffix in TEXT_SUFFIXES)
            if not self.files:
                raise DataError(f"{path}: no text files ({', '.join(TEXT_SUFFIXES)}) found in this folder")
        self.num_characters, self.sha256 = self._measure()
        if self.num_characters == 0:
            raise DataError(f"{self.source}: the text is empty")

    def _pieces(self) -> Iterator[str]:
        if self.text is not None:
            yield self.text
            return
        for number, path in enumerate(self.files):
            if number:
                yield "\n"
            try:
                with path.open(encoding="utf-8") as handle:
                    while piece := handle.read(CHUNK_CHARACTERS):
                        yield piece
            except UnicodeDecodeError as error:
                raise DataError(f"{path}: not UTF-8 text ({error})") from None

    def _measure(self) -> tuple[int, str]:
        digest, count = hashlib.sha256(), 0
        for piece in self._pieces():
            digest.update(piece.encode("utf-8"))
            count += len(piece)
        return count, digest.hexdigest()

    def chunks(self, start: int, stop: int) -> Iterator[str]:
        """Characters ``start:stop`` in pieces that end at a line break where one is near (BPE merges stay whole)."""
        position, carry = 0, ""
        for piece in self._pieces():
            low, high = max(start - position, 0), min(stop - position, len(piece))
            position += len(piece)
            if high <= low:
                if position >= stop:
                    break
                continue
            buffered = carry + piece[low:high]
            cut = buffered.rfind("\n") + 1 or len(buffered)
            if cut:
                yield buffered[:cut]
            carry = buffered[cut:]
        if carry:
            yield carry


def load_text_data(spec: DataSpec, base_tokenizer: Tokenizer | None = None) -> DataSplits:
    """Tokenized, contiguous splits of a corpus, with the tokenizer trained on the training split.

    With a ``base_tokenizer`` (fine-tuning), that vocabulary is kept: a character or SELFIES vocabulary
    is extended by the training split's new units, byte-level BPE covers any text as it is.
    """
    corpus = Corpus(spec.name)
    size = corpus.num_characters
    n_train = size - round(size * spec.validation_fraction) - round(size * spec.test_fraction)
    n_validation = round(size * spec.validation_fraction)
    bounds = {
        "train": (0, n_train),
        "validation": (n_train, n_train + n_validation),
        "test": (n_train + n_validation, size),
    }
    if base_tokenizer is None:
        tokenizer = train_tokenizer(spec.tokenizer or "char", corpus.chunks(0, n_train), spec.vocab_size)
    else:
        tokenizer = base_tokenizer.extended(corpus.chunks(0, n_train))
    window = (spec.context_length or DEFAULT_CONTEXT_LENGTH) + 1
    dtype = np.uint16 if tokenizer.vocab_size <= np.iinfo(np.uint16).max else np.uint32
    cache = _cache_directory(spec, corpus, tokenizer) if spec.memory_map else None
    if spec.line_rows and not tokenizer.line_break_is_token:
        raise DataError("line_rows needs a tokenizer whose line break is always a token of its own (char, selfies)")
    splits = {}
    for name, (start, stop) in bounds.items():
        tokens = _encode(corpus.chunks(start, stop), tokenizer, dtype, cache / f"{name}.bin" if cache else None)
        if spec.line_rows:
            rows, dropped = line_rows(np.asarray(tokens), int(tokenizer.encode("\n")[0]), window)
            if name == "train" and len(rows) == 0:
                raise DataError(f"{corpus.source}: no training line fits in {window - 2} tokens")
            splits[name] = LineSplit(rows, stop - start, dropped)
            continue
        if name == "train" and len(tokens) < window + 1:
            raise DataError(f"{corpus.source}: {len(tokens)} training tokens are too few for windows of {window}")
        splits[name] = TextSplit(tokens, stop - start, window, sliding=name == "train")
    info = {
        "kind": "text",
        "spec": spec.to_dict(),
        "source": corpus.source,
        "sha256": corpus.sha256,
        "characters": {name: stop - start for name, (start, stop) in bounds.items()},
        "sizes": {name: len(split.rows if spec.line_rows else split.tokens) for name, split in splits.items()},
        "lines_too_long": {name: split.dropped for name, split in splits.items()} if spec.line_rows else None,
        "data_shape": [window],
        "tokenizer": tokenizer.kind,
        "vocab_size": tokenizer.vocab_size,
        "binarized": False,
        "num_classes": None,
        "class_names": None,
    }
    return DataSplits(splits["train"], splits["validation"], splits["test"], info=info, tokenizer=tokenizer)


def _encode(chunks: Iterator[str], tokenizer: Tokenizer, dtype: type, path: Path | None) -> np.ndarray:
    """Token ids of the chunks, in memory, or appended to ``path`` and memory-mapped from it."""
    if path is None:
        pieces = [tokenizer.encode(chunk).astype(dtype) for chunk in chunks]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype)
    if not path.is_file():
        partial = path.with_suffix(".partial")
        with partial.open("wb") as handle:
            for chunk in chunks:
                tokenizer.encode(chunk).astype(dtype).tofile(handle)
        partial.replace(path)  # a cache file is either whole or absent
    if path.stat().st_size == 0:
        return np.zeros(0, dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def _cache_directory(spec: DataSpec, corpus: Corpus, tokenizer: Tokenizer) -> Path:
    """Token files are keyed by the text, the tokenizer and the split, so a stale cache is never read."""
    key = hashlib.sha256(
        f"{corpus.sha256}|{tokenizer.to_json()}|{spec.validation_fraction}|{spec.test_fraction}".encode()
    )
    directory = TOKEN_CACHE.expanduser() / key.hexdigest()[:16]
    directory.mkdir(parents=True, exist_ok=True)
    return directory
