"""The model ``serve`` puts behind HTTP: one classifier saved by ``run --save-models``, loaded
with the checks of ``predict`` (nothing in the folder is executed), answering as ``predict``
does (the run's ``predictions.jsonl`` holds the same labels and probabilities)."""

from __future__ import annotations

from pathlib import Path

from dataset import UsageError

from ..predict import Labeller, saved_models
from ..schema import load_results

__all__ = ["ServedModel", "choose_classifier"]


def choose_classifier(run_dir, name: str | None) -> str:
    """``name``, else the run's recommended classifier, else its only saved one."""
    saved = list(saved_models(run_dir))  # one line if the run saved none
    if name:
        if name not in saved:
            raise UsageError(f"{run_dir} has no saved model for {name} (saved: {', '.join(saved)})")
        return name
    recommended = (load_results(run_dir).get("recommendation") or {}).get("classifier")
    if recommended in saved:
        return recommended
    if len(saved) == 1:
        return saved[0]
    raise UsageError(f"{run_dir} saved {', '.join(saved)} and recommends none of them: say which with --classifier")


class ServedModel:
    """Classifier ``name`` of ``run_dir``: ``label(texts)`` gives per review its ``label``,
    ``probability`` (of that label) and ``probabilities`` (per class, in the run's class order)."""

    def __init__(self, run_dir, name: str | None = None):
        self.run_dir = Path(run_dir)
        self.name = choose_classifier(self.run_dir, name)
        self._labeller = Labeller(self.run_dir, [self.name])
        self.classes: list[str] = list(self._labeller.classes)
        model = self._labeller.models[self.name]
        self.batches_well = type(model).batches_well
        self.run_id = load_results(self.run_dir).get("run_id")

    def label(self, texts: list[str]) -> list[dict]:
        rows = self._labeller.rows(texts, with_text=False)
        return [row["predictions"][self.name] for row in rows]
