"""SetFit: few-shot contrastive fine-tuning of the bundled encoder, then a logistic head.

The method of Tunstall et al. (2022), "Efficient Few-Shot Learning Without Prompts", as
the ``setfit`` package runs it by default: pairs of training reviews, one of the same
class and one of another per review and iteration, fine-tune the sentence encoder so that
the cosine similarity of a pair is 1 for the same class and 0 otherwise
(``CosineSimilarityLoss``, AdamW at 2e-5, one epoch, batches of 16 pairs); then a
logistic regression learns on the fine-tuned embeddings.

Written here on sentibench's encoder stack instead of calling the ``setfit`` package:
setfit 1.2.0 (its latest release) trains through sentence-transformers' and transformers'
``Trainer`` with ``datasets``, needs ``report_to="none"`` to run under transformers 5,
and loads the encoder through its own path, past the checks every other sentibench
encoder gets (no remote code, weights that fit the config). The method is the pair
sampling and one loss. Everything after the fine-tuning (the head, the inference path
chosen on validation, the temperature, saving and loading) is that of ``embed``.
"""

from __future__ import annotations

import logging
import math
import time
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils._param_validation import Interval

from dataset import stratified_sample

from .embed import EmbeddingLogRegClassifier
from .encoder.batching import DEFAULT_MAX_LENGTH, collate, encode

logger = logging.getLogger(__name__)


def contrastive_pairs(y: np.ndarray, iterations: int, rng: np.random.Generator) -> np.ndarray:
    """Rows ``(i, j, same)``: for each iteration and each review ``i``, one partner of its
    class (``same=1``) and one of another class (``same=0``), each drawn uniformly, as
    setfit's default ``oversampling`` does. A review alone in its class gets no positive
    partner; with one class there are no negative ones."""
    y = np.asarray(y)
    rows = []
    for c in np.unique(y):
        members, others = np.flatnonzero(y == c), np.flatnonzero(y != c)
        anchors = np.tile(members, iterations)
        if len(members) > 1:  # a shift of 1 to n-1 places within the class: never the review itself
            place = np.tile(np.arange(len(members)), iterations)
            partner = members[(place + rng.integers(1, len(members), len(anchors))) % len(members)]
            rows.append(np.column_stack([anchors, partner, np.ones_like(anchors)]))
        if len(others):
            partner = others[rng.integers(0, len(others), len(anchors))]
            rows.append(np.column_stack([anchors, partner, np.zeros_like(anchors)]))
    return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 3), dtype=np.int64)


class SetFitClassifier(EmbeddingLogRegClassifier):
    """Contrastive fine-tuning of the bundled encoder on few labels, and a logistic regression.

    Parameters
    ----------
    model : str or path, optional
        Encoder name or folder; ``None`` is the bundled all-MiniLM-L6-v2 (as setfit's
        examples use a sentence-transformers encoder).
    num_iterations : int, default=20
        Pairs drawn per review: this many positive and as many negative (setfit's default).
    max_pairs : int, default=2000
        At most this many pairs train the encoder (a random sample of them): with many
        labels the pairs grow with the data, and few-shot is what this method is for.
    epochs : int, default=1
    batch_size : int, default=16
        Pairs per optimiser step (setfit's default).
    learning_rate : float, default=2e-5
        AdamW learning rate of the encoder, with a linear decay over the steps.
    max_train_samples : int, optional
        Train (encoder and head) on a stratified sample of this many training reviews
        (``run --max-train-samples``): how few labels will do.
    max_length, C, class_weight, device, inference, temperature_scaling, random_state
        As for :class:`~classifiers.EmbeddingLogRegClassifier` (the head, the inference
        path and the temperature are embed's, on the fine-tuned encoder).

    Attributes
    ----------
    setfit_ : dict
        ``pairs`` trained on, ``pairs_drawn`` before the cap, ``steps``, ``epochs``,
        ``contrastive_time_s`` and the mean loss of the first and last tenth of the steps.
    """

    name = "setfit"
    _parameter_constraints = {
        **EmbeddingLogRegClassifier._parameter_constraints,
        "num_iterations": [Interval(Integral, 1, None, closed="left")],
        "max_pairs": [Interval(Integral, 1, None, closed="left")],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_train_samples": [Interval(Integral, 1, None, closed="left"), None],
    }
    search_space = {"C": [0.1, 1.0, 10.0]}

    def __init__(self, model=None, *, num_iterations=20, max_pairs=2000, epochs=1, batch_size=16, learning_rate=2e-5,
                 max_train_samples=None, max_length=DEFAULT_MAX_LENGTH, C=1.0, class_weight=None, device="auto", inference="auto",
                 temperature_scaling=True, random_state=None):
        super().__init__(model, max_length=max_length, batch_size=batch_size, C=C, class_weight=class_weight,
                         device=device, inference=inference, temperature_scaling=temperature_scaling,
                         random_state=random_state)
        self.num_iterations = num_iterations
        self.max_pairs = max_pairs
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.max_train_samples = max_train_samples

    def _fit(self, texts, y, validation, sample_weight):
        n = len(texts)
        if self.max_train_samples is not None and self.max_train_samples < n:
            keep = stratified_sample(np.asarray(y), self.max_train_samples, seed=self._seed())
            logger.warning("setfit: training on a stratified sample of %d of %d reviews (max_train_samples)", len(keep), n)
            texts, y = [texts[i] for i in keep], np.asarray(y)[keep]
            sample_weight = None if sample_weight is None else sample_weight[keep]
        self.fit_info_ = {"method": "subsample" if len(texts) < n else "full", "rows": len(texts), "of_rows": n}
        super()._fit(texts, y, validation, sample_weight)

    def _seed(self) -> int:
        return 42 if self.random_state is None else int(np.random.default_rng(self.random_state).integers(2**31))

    def _prepare_encoder(self, texts, y) -> None:
        self._load_encoder()
        self._fine_tune(list(texts), np.asarray(y))

    def _fine_tune(self, texts: list[str], y: np.ndarray) -> None:
        """Contrastive fine-tuning of ``encoder_`` in place (train mode, then eval)."""
        start = time.perf_counter()
        seed = self._seed()
        rng = np.random.default_rng(seed)
        torch.manual_seed(seed)
        pairs = contrastive_pairs(y, self.num_iterations, rng)
        drawn = len(pairs)
        if drawn > self.max_pairs:
            pairs = pairs[rng.choice(drawn, self.max_pairs, replace=False)]
        losses = self._train_pairs(encode(self.tokenizer_, texts, self.max_length, "head"), pairs, rng)
        tenth = max(len(losses) // 10, 1)
        self.setfit_ = {
            "pairs": len(pairs), "pairs_drawn": drawn, "steps": len(losses), "epochs": self.epochs,
            "batch_size": self.batch_size, "learning_rate": self.learning_rate,
            "loss_first_tenth": round(float(np.mean(losses[:tenth])), 6) if losses else None,
            "loss_last_tenth": round(float(np.mean(losses[-tenth:])), 6) if losses else None,
            "contrastive_time_s": round(time.perf_counter() - start, 3),
        }
        logger.info("setfit: %d pairs (%d drawn), %d steps in %.1f s", len(pairs), drawn, len(losses),
                    self.setfit_["contrastive_time_s"])

    def _train_pairs(self, encoded: list[list[int]], pairs: np.ndarray, rng: np.random.Generator) -> list[float]:
        """AdamW on ``CosineSimilarityLoss`` (mean squared error of the cosine of the pair's
        mean-pooled embeddings against ``same``), linear decay, ``epochs`` passes."""
        from transformers import get_linear_schedule_with_warmup

        from .encoder.network import MeanPooledEncoder

        if not len(pairs):
            return []
        net = MeanPooledEncoder(self.encoder_).train()
        optimizer = torch.optim.AdamW(net.parameters(), lr=self.learning_rate)
        per_epoch = math.ceil(len(pairs) / self.batch_size)
        scheduler = get_linear_schedule_with_warmup(optimizer, 0, per_epoch * self.epochs)
        pad = self.tokenizer_.pad_token_id or 0
        losses = []
        for _ in range(self.epochs):
            order = rng.permutation(len(pairs))
            for first in range(0, len(order), self.batch_size):
                batch = pairs[order[first: first + self.batch_size]]
                ids = np.concatenate([batch[:, 0], batch[:, 1]])
                u_v = net(*collate(encoded, ids, pad, self.max_length, 8, self.device_))
                cosine = torch.nn.functional.cosine_similarity(u_v[: len(batch)], u_v[len(batch):])
                loss = torch.nn.functional.mse_loss(cosine, torch.as_tensor(batch[:, 2], dtype=cosine.dtype,
                                                                            device=cosine.device))
                loss.backward()
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(float(loss.detach()))
        net.eval()
        return losses

    def extra_record(self, test=None) -> dict:
        return {**super().extra_record(test), "fit_info": getattr(self, "fit_info_", None), "setfit": getattr(self, "setfit_", None)}
