"""The fine-tuning loop: one code path for one process and for several.

Precision and process count are handled by objects the loop calls (a ``GradScaler``
that is a pass-through unless fp16, :mod:`._parallel`), as nanoGPT's ``train.py`` and
transformers' ``run_glue_no_trainer.py`` do, so the loop itself has no branches on them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import torch

from ..encoder.inference import predict_logits
from ._checkpoint import load_checkpoint, prepare_folder, save_checkpoint

logger = logging.getLogger(__name__)

#: Steps between refreshes of the loss a progress bar shows.
_POSTFIX_EVERY = 10
#: Parameters that AdamW does not decay.
_NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm.weight", "norm.weight")


@dataclass(frozen=True)
class TrainSettings:
    """The hyperparameters the loop needs (a subset of BertClassifier's)."""

    epochs: int
    batch_size: int
    learning_rate: float
    warmup_ratio: float
    weight_decay: float
    max_grad_norm: float
    patience: int
    eval_every: int | None
    seed: int
    verbose: bool
    compile: bool = False  # torch.compile the network for the training steps

    @classmethod
    def from_params(cls, params: dict) -> TrainSettings:
        return cls(**{f.name: params[f.name] for f in fields(cls) if f.name in params})


@dataclass
class TrainingData:
    encoded: list  # token ids per training review
    labels: torch.Tensor  # on the training device
    weights: torch.Tensor  # per-review loss weights (ones without sample_weight)
    val_encoded: list | None
    val_labels: np.ndarray | None

    @property
    def lengths(self) -> np.ndarray:
        return np.fromiter((len(s) for s in self.encoded), dtype=np.int64, count=len(self.encoded))


@dataclass
class TrainState:
    """Everything about training progress; saved whole in every checkpoint."""

    epoch: int = 0  # last finished epoch
    history: list = field(default_factory=list)  # one record per evaluation
    best_accuracy: float = -1.0
    best_index: int | None = None  # position in history of the best evaluation
    best_epoch: float | None = None
    best_weights: dict | None = None
    stale: int = 0  # evaluations since the last improvement
    stop: bool = False
    inference_choice: dict | None = None  # the inference path chosen after training (recorded by the caller)

    def keep_best(self, net, record: dict, patience: int) -> None:
        """Copy the weights when validation accuracy improves; stop after ``patience`` misses."""
        if record["val_accuracy"] is None:
            self.best_epoch, self.stale = record["epoch"], 0
        elif record["val_accuracy"] > self.best_accuracy:
            self.best_accuracy, self.best_index = record["val_accuracy"], len(self.history) - 1
            self.best_weights = {k: v.detach().clone() for k, v in net.state_dict().items()}
            self.best_epoch, self.stale = record["epoch"], 0
        else:
            self.stale += 1
            if self.stale >= patience:
                logger.info("early stopping: no better validation accuracy for %d evaluation(s)", self.stale)
                self.stop = True


class _Window:
    """Training sums since the last evaluation, kept on the training device: adding to
    them never waits for the GPU (no ``.item()`` per step); they are read at evaluations
    and for the occasional progress line."""

    def __init__(self, device):
        self.loss = torch.zeros((), dtype=torch.float64, device=device)
        self.correct = torch.zeros((), dtype=torch.int64, device=device)
        self.seen = 0
        self.start = time.perf_counter()

    def add(self, loss: torch.Tensor, logits: torch.Tensor, target: torch.Tensor) -> None:
        self.loss += loss.detach() * len(target)
        self.correct += (logits.detach().argmax(-1) == target).sum()
        self.seen += len(target)

    def mean_loss(self) -> float:
        return float(self.loss) / max(self.seen, 1)


def _staged(batches, runtime, data: TrainingData):
    """``(input_ids, attention, rows)`` for each batch, the next one built and on its way to
    the device (pinned memory, ``non_blocking``) before the current one is used."""
    upcoming = None
    for batch in batches:
        staged = (*runtime.collate(data.encoded, batch), runtime.to_device(batch))
        if upcoming is not None:
            yield upcoming
        upcoming = staged
    if upcoming is not None:
        yield upcoming


def _optimizer(net, settings: TrainSettings):
    trainable = [(n, p) for n, p in net.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in trainable if not n.endswith(_NO_DECAY)], "weight_decay": settings.weight_decay},
        {"params": [p for n, p in trainable if n.endswith(_NO_DECAY)], "weight_decay": 0.0},
    ]
    # The fused AdamW kernel updates all parameters in one pass (docs/design.md, "Fused AdamW").
    return torch.optim.AdamW(groups, lr=settings.learning_rate, fused=True), [p for _, p in trainable]


class _Progress:
    """The loss on the progress bar, a line now and then without one, and an early time estimate."""

    def __init__(self, settings: TrainSettings, steps_per_epoch: int, first_epoch: int):
        self.epochs = settings.epochs
        self.steps_per_epoch = steps_per_epoch
        self.total = steps_per_epoch * settings.epochs
        self.first_epoch = first_epoch
        self.clock = time.perf_counter()
        # Without progress bars (a log file), a line now and then shows that a long epoch moves;
        # with them, the loss shown is refreshed every few steps (reading it waits for a GPU).
        self.log_every = 0 if settings.verbose else max(50, steps_per_epoch // 10)

    def after_step(self, bar, window: _Window, epoch: int, step: int, runtime) -> None:
        """Refresh the bar's loss, log a progress line or the time estimate, when due at this step."""
        if not bar.disable and step % _POSTFIX_EVERY == 0:
            bar.set_postfix(loss=f"{window.mean_loss():.4f}", refresh=False)
        if self.log_every and step % self.log_every == 0 and step < self.steps_per_epoch:
            logger.info(
                "epoch %d/%d: step %d of %d, train loss %.4f", epoch, self.epochs, step, self.steps_per_epoch,
                window.mean_loss(),
            )
        if epoch == self.first_epoch and step == min(20, self.steps_per_epoch):
            runtime.synchronize()
            per_step = (time.perf_counter() - self.clock) / step
            logger.info(
                "estimated time: %.0f s per epoch, %.0f s for %d epochs",
                per_step * self.steps_per_epoch, per_step * self.total, self.epochs,
            )


def _resume(checkpoint, fingerprint, runtime, net, optimizer, scheduler, rng) -> TrainState:
    """The saved state of this run's checkpoint, its weights, optimizer, schedule and RNGs restored; else a fresh one."""
    saved = load_checkpoint(checkpoint, fingerprint, runtime.device)
    if saved is None:
        return TrainState()
    net.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    rng.bit_generator.state = saved["numpy_rng"]
    torch.set_rng_state(saved["torch_rng"].cpu())  # loaded onto the training device
    state = TrainState(**saved["state"])
    logger.info("resuming BERT training after epoch %d from %s", state.epoch, checkpoint)
    return state


def _save_epoch(checkpoint, fingerprint, state: TrainState, net, optimizer, scheduler, rng) -> None:
    """Save everything the run needs to continue after this epoch (nothing without a checkpoint path)."""
    if checkpoint is not None:
        save_checkpoint(checkpoint, {
            "fingerprint": fingerprint, "state": asdict(state), "model": net.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "numpy_rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(),
        })


def _evaluates_at(step: int, steps_per_epoch: int, eval_every: int | None) -> bool:
    """Whether the run evaluates after this step: at the end of each epoch, and every ``eval_every`` steps."""
    return step == steps_per_epoch or bool(eval_every and step % eval_every == 0)


def _restore_best(net, state: TrainState) -> None:
    """Load the weights of the best evaluation unless they are those of the last."""
    if state.best_weights is not None and state.best_index != len(state.history) - 1:
        logger.info("restoring the weights of epoch %g (validation accuracy %.4f)", state.best_epoch, state.best_accuracy)
        net.load_state_dict(state.best_weights)


def train(net, data: TrainingData, settings: TrainSettings, runtime, procs, checkpoint=None, fingerprint=None) -> TrainState:
    """Fine-tune ``net`` (a PooledClassifier) in place; returns the final :class:`TrainState`.

    The weights of the best validation evaluation are restored at the end. With
    ``checkpoint`` (a path) each finished epoch is saved there and a checkpoint of the
    same run (``fingerprint``) is continued; the last one stays for the caller, which
    records what it decides after training in it and removes it when the fit is done.
    """
    from transformers import get_linear_schedule_with_warmup

    if len(data.encoded) < procs.num_processes:
        raise ValueError(f"cannot train on {len(data.encoded)} reviews with {procs.num_processes} processes")
    optimizer, params = _optimizer(net, settings)
    steps_per_epoch = math.ceil(len(data.encoded) / (settings.batch_size * procs.num_processes))
    model = procs.prepare(net)
    if settings.compile:
        model = torch.compile(model)
    total = steps_per_epoch * settings.epochs
    scheduler = get_linear_schedule_with_warmup(optimizer, int(settings.warmup_ratio * total), total)
    scaler = torch.amp.GradScaler(torch.device(runtime.device).type, enabled=runtime.precision == "fp16")
    rng = np.random.default_rng(settings.seed)
    lengths = data.lengths

    if not procs.keeps_checkpoints:
        checkpoint = None  # a multi-process run restarts its training
    prepare_folder(checkpoint)
    state = _resume(checkpoint, fingerprint, runtime, net, optimizer, scheduler, rng)
    logger.info(
        "***** Running training: %d reviews, %d epochs, batch %d, %s on %s%s *****",
        len(data.encoded), settings.epochs, settings.batch_size, runtime.precision, runtime.device,
        ", compiled" if settings.compile else "",
    )
    first_epoch = state.epoch + 1
    progress = _Progress(settings, steps_per_epoch, first_epoch)
    for epoch in range(first_epoch, settings.epochs + 1):
        net.train()
        window = _Window(runtime.device)
        batches = procs.batches(lengths, settings.batch_size, rng, settings.seed, epoch)
        bar = _progress(batches, f"epoch {epoch}/{settings.epochs}", settings.verbose and procs.is_main)
        for step, (input_ids, attention, rows) in enumerate(_staged(bar, runtime, data), 1):
            target = data.labels[rows]
            with runtime.autocast(), runtime.attention_kernel():
                logits = model(input_ids, attention)
            per_review = torch.nn.functional.cross_entropy(logits.float(), target, reduction="none")
            loss = (per_review * data.weights[rows]).mean()
            scaler.scale(loss).backward()
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(params, settings.max_grad_norm)
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            window.add(loss, logits, target)
            progress.after_step(bar, window, epoch, step, runtime)
            if _evaluates_at(step, steps_per_epoch, settings.eval_every):
                position = epoch - 1 + step / steps_per_epoch
                record = _evaluate(net, window, position, data, runtime, procs, max(settings.batch_size, 64))
                state.history.append(record)
                state.keep_best(net, record, settings.patience)
                net.train()
                window = _Window(runtime.device)
                if state.stop:
                    break
        if state.stop:
            break
        state.epoch = epoch
        _save_epoch(checkpoint, fingerprint, state, net, optimizer, scheduler, rng)
    _restore_best(net, state)
    net.eval()
    return state


def _evaluate(net, window: _Window, position: float, data: TrainingData, runtime, procs, batch_size: int) -> dict:
    """A history record: training loss/accuracy since the last evaluation, and validation
    loss/accuracy. With several processes, training sums are added up and each process
    scores a share of the validation split, gathered so that every process takes the
    same best-weights and early-stopping decisions."""
    runtime.synchronize()
    seconds = time.perf_counter() - window.start
    loss, correct, seen = procs.total([float(window.loss), int(window.correct), window.seen], runtime.device)
    record = {
        "epoch": round(position, 4),
        "train_loss": loss / seen,
        "train_accuracy": correct / seen,
        "val_loss": None,
        "val_accuracy": None,
        "seconds": seconds,
        "samples_per_s": seen / seconds,
    }
    record.update(procs.per_process(record))
    if data.val_encoded is not None:
        net.eval()
        val_logits = procs.predict_all(lambda encoded: predict_logits(net, encoded, runtime, batch_size=batch_size), data.val_encoded)
        val_y = torch.as_tensor(data.val_labels)
        record["val_loss"] = float(torch.nn.functional.cross_entropy(val_logits, val_y))
        record["val_accuracy"] = float((val_logits.argmax(-1) == val_y).float().mean())
    logger.info(
        "epoch %g: train loss %.4f acc %.4f | val loss %s acc %s | %.0f s",
        record["epoch"], record["train_loss"], record["train_accuracy"],
        _fmt(record["val_loss"]), _fmt(record["val_accuracy"]), seconds,
    )
    return record


def _progress(iterable, desc: str, verbose: bool):
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, disable=not verbose, leave=False)


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.4f}"
