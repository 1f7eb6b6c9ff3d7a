"""``perf bert --time-to-accuracy N``: validation accuracy against training time, the
Trainer's and sentibench's, each trained in its own fresh process (see :mod:`.isolated`)."""

from __future__ import annotations

from .bert import _accuracy, sentence_data, sentibench_train, trainer_train
from .isolated import in_own_process


def time_to_accuracy(model_path, n, data, batch_size, epochs, seed, *, device="cpu", precision="fp32") -> dict:
    """Train (b) and (c) for ``epochs`` on a 70/15/15 split of ``n`` sentences; per epoch
    the training time so far and validation accuracy; plus (c)'s test accuracy with its
    inference path and with the fp32 model. On a GPU, (c) trains with its GPU default
    (``batch_size="auto"``)."""
    ours_batch = batch_size if device == "cpu" else "auto"
    out = {"n_train": None, "epochs": epochs, "batch_trainer": batch_size, "batch_sentibench": ours_batch}
    common = (model_path, n, data, epochs, seed, device, precision)
    out["n_train"], out["trainer"], out["trainer_test_accuracy"] = in_own_process(_trainer_curve, batch_size, *common)
    out["sentibench"], out["sentibench_test_accuracy"] = in_own_process(_sentibench_curve, ours_batch, *common)
    return out


def _split(n, data, seed):
    from dataset import stratified_split

    texts, labels, _ = sentence_data(n, data, seed=seed)
    tr, va, te = stratified_split(labels, seed=seed)
    pick = lambda idx: [texts[i] for i in idx]  # noqa: E731
    return (pick(tr), labels[tr]), (pick(va), labels[va]), (pick(te), labels[te])


def _trainer_curve(batch_size, model_path, n, data, epochs, seed, device, precision):
    (x, y), val, (test_x, test_y) = _split(n, data, seed)
    trainer = trainer_train(model_path, x, y, batch_size, epochs=epochs, val=val, seed=seed, device=device,
                            precision=precision)
    accuracy = _accuracy(trainer["tokenizer"], trainer["model"], test_x, test_y, precision=precision, device=device)
    return len(x), trainer["curve"], accuracy


def _sentibench_curve(batch_size, model_path, n, data, epochs, seed, device, precision):
    (x, y), val, (test_x, test_y) = _split(n, data, seed)
    ours = sentibench_train(model_path, x, y, batch_size, epochs=epochs, val=val, seed=seed, device=device,
                            precision=precision)
    return ours["curve"], ours["classifier"].compare_inference(test_x, test_y)
