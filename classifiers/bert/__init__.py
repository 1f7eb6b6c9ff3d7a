"""Fine-tuned BERT (any Hugging Face encoder), fast on a CPU.

The package is split by concern: :mod:`._hub` finds and loads checkpoints,
:mod:`._batching` tokenises and groups reviews by length, :mod:`._train` is the
fine-tuning loop (:mod:`._parallel` for several processes, :mod:`._checkpoint` for
epoch checkpoints), :mod:`._inference` is the int8/TorchScript inference path, and
:mod:`._model` holds the :class:`BertClassifier` facade.
"""

from ._batching import DEFAULT_MAX_LENGTH, distributed_length_grouped_batches, length_grouped_batches, truncate
from ._hub import BUNDLED_MODEL_NAMES, ModelNotAvailableError, bundled_model_path, load_pretrained, quiet_transformers
from ._inference import PooledClassifier, quantized_traced
from ._model import BertClassifier
from ._runtime import cpu_supports_bf16

__all__ = [
    "BUNDLED_MODEL_NAMES",
    "DEFAULT_MAX_LENGTH",
    "BertClassifier",
    "ModelNotAvailableError",
    "PooledClassifier",
    "bundled_model_path",
    "cpu_supports_bf16",
    "distributed_length_grouped_batches",
    "length_grouped_batches",
    "load_pretrained",
    "quantized_traced",
    "quiet_transformers",
    "truncate",
]
