"""Data sets that work offline, a user's own files, and fixed seeded splits.

Names are imported on first use, so a model that needs only a tokenizer does not load the table readers.
"""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "list_datasets": "genmodels.data.loading",
    "load_data": "genmodels.data.loading",
    "DATASETS": "genmodels.data.registry",
    "register_dataset": "genmodels.data.registry",
    "DataSpec": "genmodels.data.spec",
    "DataSplits": "genmodels.data.spec",
    "ImageSplit": "genmodels.data.spec",
    "TEXT_DATASETS": "genmodels.data.text",
    "TextSplit": "genmodels.data.text",
    "TokenWindows": "genmodels.data.text",
    **{
        name: "genmodels.data.tokenizers"
        for name in ("BPETokenizer", "CharTokenizer", "SelfiesTokenizer", "Tokenizer", "load_tokenizer")
    },
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
