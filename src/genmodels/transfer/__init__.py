"""Transfer learning: fine-tune a saved model on new data, whole, with frozen blocks, or through LoRA adapters.

LoRA itself is a layer (:mod:`genmodels.nn.lora`) because a saved adapter must load with the model.
"""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "LoRASettings": "genmodels.nn.lora",
    "apply_lora": "genmodels.nn.lora",
    "merge_lora": "genmodels.nn.lora",
    "BaseModel": "genmodels.transfer.finetuning",
    "adapt_to_data": "genmodels.transfer.finetuning",
    "load_base": "genmodels.transfer.finetuning",
    "locate_base": "genmodels.transfer.finetuning",
    "locate_model_dir": "genmodels.transfer.finetuning",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)
