"""Text to token ids and back: characters, SELFIES symbols, or byte-pair encoding through Hugging Face ``tokenizers``.

Each is saved as ``tokenizer.json`` beside a sequence model's weights, so ``from_pretrained``
restores the model and the vocabulary it was trained with together.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genmodels.errors import CheckpointError, ConfigError, DataError
from genmodels.io.files import write_text_atomic
from genmodels.io.validation import check_value

TOKENIZER_FILE = "tokenizer.json"
TOKENIZERS = ("char", "selfies", "bpe")
UNKNOWN_CHARACTER = "\ufffd"
"""What the unknown token decodes to: Unicode's replacement character."""


class Tokenizer(ABC):
    kind: str = ""
    never_generated: tuple[int, ...] = ()
    """Ids a model must not produce when sampling (e.g. the unknown character)."""
    line_break_is_token: bool = False
    """Every line break is a token of its own, so text can be cut into lines in token space."""

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

    def extended(self, texts: Iterable[str]) -> Tokenizer:
        """This vocabulary, grown to cover ``texts`` where it can, old ids unchanged (for fine-tuning)."""
        return self

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / TOKENIZER_FILE
        write_text_atomic(path, self.to_json())
        return path


class VocabularyTokenizer(Tokenizer):
    """A list of units (characters, symbols) seen in the training text; id 0 stands for every unit it lacks."""

    never_generated = (0,)
    line_break_is_token = True

    def __init__(self, units: Iterable[str]) -> None:
        # ids follow the given order, so an extended vocabulary keeps every old unit's id
        self.units = [unit for unit in dict.fromkeys(units) if unit != UNKNOWN_CHARACTER]
        for unit in self.units:
            if self.split(unit) != [unit]:
                raise ConfigError(f"{unit!r} is not a single unit of a {self.kind} vocabulary")
        self.id_of = {unit: index + 1 for index, unit in enumerate(self.units)}
        self._lookup = np.array([UNKNOWN_CHARACTER, *self.units])

    @staticmethod
    @abstractmethod
    def split(text: str) -> list[str]:
        """``text`` as its units, in order."""

    @classmethod
    def _units_of(cls, texts: Iterable[str]) -> set[str]:
        seen: set[str] = set()
        for text in texts:
            seen.update(cls.split(text))
        return seen

    @classmethod
    def train(cls, texts: Iterable[str]) -> VocabularyTokenizer:
        seen = cls._units_of(texts)
        if not seen:
            raise DataError(f"cannot build a {cls.kind} vocabulary from empty text")
        return cls(sorted(seen))

    def extended(self, texts: Iterable[str]) -> VocabularyTokenizer:
        """This vocabulary plus the units of ``texts`` it lacks, appended: old ids are unchanged."""
        return type(self)([*self.units, *sorted(self._units_of(texts) - set(self.units))])

    @property
    def vocab_size(self) -> int:
        return len(self.units) + 1

    def encode(self, text: str) -> np.ndarray:
        units, id_of = self.split(text), self.id_of
        return np.fromiter((id_of.get(unit, 0) for unit in units), dtype=np.int64, count=len(units))

    def decode(self, ids: Iterable[int]) -> str:
        ids = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ConfigError(f"token ids must be in [0, {self.vocab_size}), got {ids.min()}..{ids.max()}")
        return "".join(self._lookup[ids])


class CharTokenizer(VocabularyTokenizer):
    """One token per character seen in the training text."""

    kind = "char"

    @staticmethod
    def split(text: str) -> list[str]:
        return list(text)

    @property
    def characters(self) -> list[str]:
        return self.units

    def to_json(self) -> str:
        return json.dumps({"type": "char", "characters": "".join(self.units)}, ensure_ascii=False) + "\n"


SELFIES_SYMBOL = re.compile(r"\[[^\[\]\n]*\]|.", re.DOTALL)


class SelfiesTokenizer(VocabularyTokenizer):
    """One token per SELFIES symbol (``[C]``, ``[=Branch1]``, ...), per line break and per fragment dot.

    A model over whole symbols can only write strings that SELFIES decodes to a valid molecule
    (Krenn et al., 2020), where a character model would also have to learn the brackets.
    """

    kind = "selfies"
    OUTSIDE_BRACKETS = ("\n", ".")
    """The characters a vocabulary learns outside symbols: line breaks and the dot between fragments."""

    @staticmethod
    def split(text: str) -> list[str]:
        return SELFIES_SYMBOL.findall(text)

    @classmethod
    def _units_of(cls, texts: Iterable[str]) -> set[str]:
        # a stray character (a symbol cut where a split ends) stays unknown rather than becoming a token
        units = super()._units_of(texts)
        return {unit for unit in units if unit in cls.OUTSIDE_BRACKETS or (len(unit) > 1 and unit[0] == "[")}

    def to_json(self) -> str:
        return json.dumps({"type": "selfies", "symbols": self.units}, ensure_ascii=False) + "\n"


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
    if kind == "selfies":
        return SelfiesTokenizer.train(texts)
    if kind == "bpe":
        return BPETokenizer.train(texts, vocab_size or 1024)
    raise DataError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, got {kind!r}")


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """The tokenizer saved in ``directory``; a clear error when it is missing or corrupt."""
    path = Path(directory) / TOKENIZER_FILE
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: a sequence model is saved with its tokenizer")
    try:
        text = path.read_text(encoding="utf-8")
        saved = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the file is corrupt") from None
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(saved).__name__}")
    vocabularies = {"char": (CharTokenizer, "characters", str), "selfies": (SelfiesTokenizer, "symbols", list[str])}
    if saved.get("type") in vocabularies:
        tokenizer_class, key, expected = vocabularies[saved["type"]]
        try:
            units = check_value(saved.get(key), expected, key)
            if not units:
                raise ConfigError(f"{key}: expected at least one unit, got {units!r}")
            return tokenizer_class(units)
        except (ConfigError, ValueError) as error:
            raise CheckpointError(f"{path}: not a {saved['type']} tokenizer genmodels can read: {error}") from None
    from tokenizers import Tokenizer as HFTokenizer

    try:
        return BPETokenizer(HFTokenizer.from_str(text))
    except Exception as error:  # tokenizers raises its own exception type
        raise CheckpointError(f"{path} is not a tokenizer genmodels can read: {error}") from None
