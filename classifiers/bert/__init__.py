"""Fine-tuned BERT (any Hugging Face encoder), fast on a CPU: :class:`BertClassifier`.

Built on the shared encoder toolkit (:mod:`classifiers.encoder`: loading, batching,
runtime, network, inference paths). This package adds what is BERT's own:
:mod:`._train` is the fine-tuning loop (:mod:`._parallel` for several processes,
:mod:`._checkpoint` for epoch checkpoints), :mod:`._export` the Hugging Face folder and
model card, :mod:`._model` the :class:`BertClassifier` facade, :mod:`._fitting` what a fit
prepares for the loop and :mod:`._inference` the network a fitted model predicts with.
"""

from ._model import BertClassifier

__all__ = ["BertClassifier"]
