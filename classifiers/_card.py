"""The model card (``README.md``) written into every saved model folder.

What the classifier knows about itself (hyperparameters, training rows, training time)
is completed by what the caller knows (the benchmark runner passes the data source, the
split manifest and the test metrics with their confidence intervals). Every string that
comes from the user's data or paths is shown as literal text, never as Markdown.
"""

from __future__ import annotations

from typing import TypedDict

from dataset import md_literal


class CardContext(TypedDict, total=False):
    """What the caller knows about a fit and the card shows (every key optional): the benchmark
    runner passes the data, the split, and the test metrics with their confidence intervals."""

    source: str
    rows_used: int
    label_names: dict[str, str]
    class_names: list[str]
    seed: int
    split_sizes: dict[str, int]
    split_sha256: str
    data_sha256: str
    metrics: dict[str, dict]  # name -> value, low, high
    per_class: dict[str, dict] | None  # above two classes: precision, recall, f1, support per class
    train_time_s: float
    inference_check: dict | None
    run_id: str


#: Keys of ``context`` that :func:`render_card` understands (all optional): those of :class:`CardContext`.
CONTEXT_KEYS = tuple(CardContext.__annotations__)


def _metric_rows(metrics: dict) -> list[str]:
    rows = ["| metric | value | 95% CI |", "|---|---|---|"]
    for name, label in (("accuracy", "accuracy"), ("f1_macro", "macro F1")):
        entry = metrics.get(name)
        if entry:
            rows.append(f"| {label} | {entry['value']:.4f} | [{entry['low']:.4f}, {entry['high']:.4f}] |")
    return rows


def _per_class_rows(per_class: dict) -> list[str]:
    rows = ["| class | precision | recall | F1 | test reviews |", "|---|---|---|---|---|"]
    for name, m in per_class.items():
        rows.append(f"| {md_literal(name, table=True)} | {m['precision']:.4f} | {m['recall']:.4f} | {m['f1']:.4f} | {m['support']:,} |")
    return rows


def _classes_sentence(classes: list[str], names: list | None) -> str:
    shown = [f"{md_literal(c)}" + (f" ({md_literal(n)})" if names and str(n) != c else "")
             for c, n in zip(classes, names or classes, strict=False)]
    if len(classes) == 2:
        return (f"A sentiment classifier of review texts with two classes: {shown[0]} and {shown[1]} (the second is "
                "predicted where the decision function is positive).")
    return f"A sentiment classifier of review texts with {len(classes)} classes, in order: {', '.join(shown)}."


def _front_matter_lines(front_matter: dict | None) -> list[str]:
    """The YAML block that opens the card, or nothing without ``front_matter``."""
    if not front_matter:
        return []
    out = ["---"]
    for key, value in front_matter.items():
        shown = "[" + ", ".join(value) + "]" if isinstance(value, list) else value
        out.append(f"{key}: {shown}")
    return out + ["---", ""]


def _data_lines(clf, context: dict) -> list[str]:
    """The bullets of the "Training data" section."""
    out = []
    if context.get("source"):
        rows = context.get("rows_used")
        used = f", {rows:,} reviews used" if isinstance(rows, int) else ""
        out.append(f"- Source: {md_literal(context['source'])}{used}.")
    names = context.get("label_names")
    if names:
        shown = ", ".join(f"{md_literal(k)} = {md_literal(v)} in the data" for k, v in names.items())
        out.append(f"- Label values: {shown}.")
    sizes = context.get("split_sizes")
    if sizes:
        out.append(
            f"- Split: stratified 70/15/15 (seed {context.get('seed', '?')}): {sizes['train']:,} train / "
            f"{sizes['validation']:,} validation / {sizes['test']:,} test reviews."
        )
    if context.get("split_sha256"):
        out.append(f"- Split manifest SHA-256: `{context['split_sha256']}`; texts and labels SHA-256: "
                   f"`{context.get('data_sha256', 'not recorded')}`.")
    fit_info = getattr(clf, "fit_info_", None)
    if fit_info:
        out.append(f"- Fitted on {fit_info['rows']:,} of {fit_info['of_rows']:,} training reviews ({fit_info['method']}).")
    if not context.get("source"):
        out.append("- Saved from code: the data source is not recorded.")
    return out


def _evaluation_lines(context: dict) -> list[str]:
    """The body of the "Evaluation" section: the test metrics, or why there are none."""
    if not context.get("metrics"):
        return ["Not evaluated on a test split by sentibench (saved from code); `python -m benchmark run` measures it.", ""]
    sizes = context.get("split_sizes")
    out = [f"Test split ({sizes['test']:,} reviews), 95% bootstrap confidence intervals:" if sizes else
           "Test split, 95% bootstrap confidence intervals:", "", *_metric_rows(context["metrics"]), ""]
    if context.get("per_class"):
        out += ["Per class (test split):", "", *_per_class_rows(context["per_class"]), ""]
    check = context.get("inference_check")
    if check:
        out.append(
            f"Predictions use the {check['inference']} path: test accuracy {check['accuracy']:.4f} against "
            f"{check['accuracy_fp32']:.4f} in full precision ({check['agreement']:.1%} identical predictions)."
        )
        out.append("")
    return out


def render_card(clf, context: dict, *, front_matter: dict | None = None, usage: list[str] | None = None) -> str:
    """Markdown text of the model card of the fitted ``clf``.

    Parameters
    ----------
    clf : SentimentClassifier
    context : dict
        Facts the classifier cannot know (see :data:`CONTEXT_KEYS`).
    front_matter : dict, optional
        YAML metadata for model hubs (flat ``key: value`` or ``key: [list]``).
    usage : list of str, optional
        Markdown lines of the "How to use" section; sentibench's own loader by default.
    """
    out = _front_matter_lines(front_matter)
    classes = [str(c) for c in clf.classes_.tolist()]
    out += [
        f"# Sentiment classifier `{clf.name}` ({type(clf).__name__}), trained with sentibench",
        "",
        _classes_sentence(classes, context.get("class_names")),
        "",
        "## How to use",
        "",
        *(usage or [
            "```python",
            "from classifiers import SentimentClassifier",
            'clf = SentimentClassifier.load("THIS_FOLDER")',
            'clf.predict(["The pasta was cold and the waiter rude."])',
            "```",
        ]),
        "",
        "## Training data",
        "",
        *_data_lines(clf, context),
        "",
        "## Evaluation",
        "",
        *_evaluation_lines(context),
        "## Training procedure",
        "",
    ]
    train_time = context.get("train_time_s", getattr(clf, "fit_time_s_", None))
    if train_time is not None:
        out.append(f"- Training time: {train_time:.1f} s (wall clock of `fit`).")
    out += [f"- {line}" for line in clf._card_facts()]
    out += ["", "| hyperparameter | value |", "|---|---|"]
    out += [f"| {key} | {md_literal(repr(value), table=True)} |" for key, value in sorted(clf.get_params(deep=False).items())]
    out += [
        "",
        "## Intended use and limits",
        "",
        f"- Sentiment in these {len(classes)} classes of reviews like the training data: same language, "
        "domain and length. Measure accuracy on your own labelled sample before relying on it elsewhere.",
        "- The test accuracy is an estimate from one split: read it with its confidence interval.",
        "- The model learns whatever the training labels encode, biases included.",
        *[f"- {line}" for line in clf._card_limits()],
        "",
    ]
    return "\n".join(out)
