"""Transfer learning: fine-tune a saved model on new data, whole, with frozen blocks, or through LoRA adapters.

LoRA itself is a layer (:mod:`genmodels.nn.lora`) because a saved adapter must load with the model.
"""

from genmodels.nn.lora import LoRASettings, apply_lora, merge_lora
from genmodels.transfer.finetuning import BaseModel, adapt_to_data, load_base, locate_base, locate_model_dir

__all__ = [
    "BaseModel",
    "LoRASettings",
    "adapt_to_data",
    "apply_lora",
    "load_base",
    "locate_base",
    "locate_model_dir",
    "merge_lora",
]
