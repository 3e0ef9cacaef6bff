"""Text to token ids and back: characters, or byte-pair encoding through Hugging Face ``tokenizers``.

Both are saved as ``tokenizer.json`` beside a sequence model's weights, so ``from_pretrained``
restores the model and the vocabulary it was trained with together.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genmodels.errors import CheckpointError, DataError
from genmodels.files import write_text_atomic

TOKENIZER_FILE = "tokenizer.json"
TOKENIZERS = ("char", "bpe")
UNKNOWN_CHARACTER = "\ufffd"
"""What the unknown token decodes to: Unicode's replacement character."""


class Tokenizer(ABC):
    kind: str = ""
    never_generated: tuple[int, ...] = ()
    """Ids a model must not produce when sampling (e.g. the unknown character)."""

    @property
    @abstractmethod
    def vocab_size(self) -> int: ...

    @abstractmethod
    def encode(self, text: str) -> np.ndarray:
        """Token ids of ``text``, int64 ``(length,)``."""

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str: ...

    @abstractmethod
    def to_json(self) -> str: ...

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / TOKENIZER_FILE
        write_text_atomic(path, self.to_json())
        return path


class CharTokenizer(Tokenizer):
    """One token per character seen in the training text; id 0 stands for every character it has not seen."""

    kind = "char"
    never_generated = (0,)

    def __init__(self, characters: Iterable[str]) -> None:
        # ids follow the given order, so an extended vocabulary keeps every old character's id
        self.characters = [c for c in dict.fromkeys(characters) if c != UNKNOWN_CHARACTER]
        if any(len(character) != 1 for character in self.characters):
            raise ValueError("a character vocabulary holds single characters")
        self.id_of = {character: index + 1 for index, character in enumerate(self.characters)}
        self._lookup = np.array([UNKNOWN_CHARACTER, *self.characters])

    @classmethod
    def train(cls, texts: Iterable[str]) -> CharTokenizer:
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        if not seen:
            raise DataError("cannot build a character vocabulary from empty text")
        return cls(sorted(seen))

    def extended(self, texts: Iterable[str]) -> CharTokenizer:
        """This vocabulary plus the characters of ``texts`` it lacks, appended: old ids are unchanged."""
        seen: set[str] = set()
        for text in texts:
            seen.update(text)
        return CharTokenizer([*self.characters, *sorted(seen - set(self.characters))])

    @property
    def vocab_size(self) -> int:
        return len(self.characters) + 1

    def encode(self, text: str) -> np.ndarray:
        id_of = self.id_of
        return np.fromiter((id_of.get(character, 0) for character in text), dtype=np.int64, count=len(text))

    def decode(self, ids: Iterable[int]) -> str:
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(f"token ids must be in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        return "".join(self._lookup[ids])

    def to_json(self) -> str:
        return json.dumps({"type": "char", "characters": "".join(self.characters)}, ensure_ascii=False) + "\n"


class BPETokenizer(Tokenizer):
    """Byte-level byte-pair encoding (Sennrich et al., 2016; GPT-2's byte level): any Unicode text round-trips."""

    kind = "bpe"

    def __init__(self, tokenizer) -> None:  # a tokenizers.Tokenizer
        self.tokenizer = tokenizer

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int) -> BPETokenizer:
        from tokenizers import Tokenizer as HFTokenizer
        from tokenizers import decoders, models, pre_tokenizers, trainers

        alphabet = pre_tokenizers.ByteLevel.alphabet()
        if vocab_size <= len(alphabet):
            raise DataError(f"a byte-level BPE vocabulary needs more than {len(alphabet)} tokens, got {vocab_size}")
        tokenizer = HFTokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False)
        tokenizer.train_from_iterator(texts, trainer)
        return cls(tokenizer)

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self.tokenizer.encode(text).ids, dtype=np.int64)

    def decode(self, ids: Iterable[int]) -> str:
        return self.tokenizer.decode([int(token) for token in ids], skip_special_tokens=False)

    def to_json(self) -> str:
        return self.tokenizer.to_str()


def train_tokenizer(kind: str, texts: Iterable[str], vocab_size: int | None = None) -> Tokenizer:
    if kind == "char":
        return CharTokenizer.train(texts)
    if kind == "bpe":
        return BPETokenizer.train(texts, vocab_size or 1024)
    raise DataError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {kind!r}")


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """The tokenizer saved in ``directory``; a clear error when it is missing or corrupt."""
    path = Path(directory) / TOKENIZER_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: a sequence model is saved with its tokenizer")
    text = path.read_text(encoding="utf-8")
    try:
        saved = json.loads(text)
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the file is corrupt") from None
    if saved.get("type") == "char":
        return CharTokenizer(saved["characters"])
    from tokenizers import Tokenizer as HFTokenizer

    try:
        return BPETokenizer(HFTokenizer.from_str(text))
    except Exception as error:  # tokenizers raises its own exception type
        raise CheckpointError(f"{path} is not a tokenizer genmodels can read: {error}") from None
