"""The behavioural tests of a run: the built-in suite, a user's ``--robustness-suite`` file on
top of it, and the checks that turn any mistake in that file into one line.

The built-in tests and word lists are data files of this package (``data/suite.json`` and
``data/lexicon.json``), in English, about establishments. A user's file (JSON, documented in
README.md) adds tests, replaces a built-in test of the same name, drops one
(``{"name": ..., "drop": true}``) or replaces them all (``"replace": true``), and adds or
replaces word lists. Nothing in a suite file is ever run as code.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from importlib import resources
from math import prod
from pathlib import Path

from dataset import UsageError

__all__ = ["EXPECTATIONS", "KINDS", "PERTURBATIONS", "Suite", "Test", "load_suite", "placeholders"]

#: What a minimum-functionality case expects of the predicted class.
EXPECTATIONS = ("positive", "negative", "neutral", "not negative", "not positive")
#: Minimum functionality (templates), invariance and directional (perturbed test reviews).
KINDS = ("mft", "inv", "dir")
#: Perturbation -> the options it takes (``count``: typos per review; ``words``: the list whose
#: members are swapped; ``texts``: templates of what is appended).
PERTURBATIONS = {
    "typos": ("count",), "punctuation": (), "case": (), "contractions": (), "swap": ("words",), "numbers": (),
    "append": ("texts",),
}
_SLOT = re.compile(r"\{([A-Za-z_]\w*)\}")
_LIST_NAME = re.compile(r"[A-Za-z_]\w*(?<!\d)")
_MAX_COUNT = 100_000
#: More combinations than a seeded draw without replacement handles (NumPy's int64 range, with room).
_MAX_COMBINATIONS = 10**15
_SUITE_KEYS = {"about", "replace", "max_cases", "reviews", "lists", "tests"}
_TEST_KEYS = {"name", "family", "kind", "description", "expect", "perturb", "must_not", "drop", "count", "words", "texts"}


@dataclass(frozen=True)
class Test:
    """One behavioural test. ``expect`` (mft): expectation -> templates; ``perturb`` and its
    options (inv, dir); ``must_not`` (dir): ``"rise"`` or ``"fall"`` of the score."""

    name: str
    family: str
    kind: str
    expect: dict[str, list[str]] | None = None
    perturb: str | None = None
    count: int = 1
    words: str | None = None
    texts: list[str] | None = None
    must_not: str | None = None
    description: str = ""


@dataclass(frozen=True)
class Suite:
    """The tests and word lists of a run, with where they came from."""

    tests: tuple[Test, ...]
    lists: dict[str, list[str]]
    max_cases: int = 500  # cases per template test (drawn with the seed when the templates give more)
    reviews: int = 500  # test reviews (drawn with the seed) that invariance and directional tests perturb
    source: str = "built-in"
    sha256: str = field(default="", compare=False)

    def to_json(self) -> dict:
        """The suite as stored in ``robustness.json`` (a user's file may be gone later)."""
        return {"source": self.source, "sha256": self.sha256, "max_cases": self.max_cases, "reviews": self.reviews}


def placeholders(template: str) -> list[str]:
    """The slots of a template, in order of first appearance: ``{noun}``, ``{noun2}``..."""
    return list(dict.fromkeys(_SLOT.findall(template)))


def list_of(slot: str) -> str:
    """The word list a slot draws from: ``noun2`` -> ``noun``."""
    return slot.rstrip("0123456789")


def _builtin(name: str) -> dict:
    return json.loads(resources.files("benchmark.robustness").joinpath("data").joinpath(name).read_text(encoding="utf-8"))


def load_suite(path=None) -> Suite:
    """The built-in suite, with the user's file at ``path`` (if any) applied to it.

    Raises
    ------
    UsageError
        One line naming the file and what is wrong in it.
    """
    base, lexicon = _builtin("suite.json"), _builtin("lexicon.json")
    lists = {k: list(v) for k, v in lexicon["lists"].items()}
    raw_tests = list(base["tests"])
    settings = {"max_cases": base["max_cases"], "reviews": base["reviews"]}
    source = "built-in"
    if path is not None:
        where = f"--robustness-suite {path}"
        user = _read(Path(path), where)
        lists.update(_user_lists(user.get("lists", {}), where))
        raw_tests = _merged_tests([] if user.get("replace") else raw_tests, user.get("tests", []), where)
        for key in settings:
            if key in user:
                settings[key] = _count(user[key], f"{where}: {key}")
        source = str(path) if user.get("replace") else f"built-in + {path}"
    else:
        where = "the built-in suite"
    _check_lists(lists, where)
    tests = tuple(_test(raw, lists, where) for raw in raw_tests)
    if not tests:
        raise UsageError(f"{where} leaves no test to run; add tests or drop \"replace\"")
    digest = hashlib.sha256(json.dumps({"tests": [asdict(t) for t in tests], "lists": lists, **settings},
                                       sort_keys=True).encode()).hexdigest()
    return Suite(tests, lists, settings["max_cases"], settings["reviews"], source, digest)


def _read(path: Path, where: str) -> dict:
    try:
        user = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"{where}: no such file") from None
    except OSError as exc:
        raise UsageError(f"{where}: cannot read it ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UsageError(f"{where} is not UTF-8 text; re-save it as UTF-8") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(user, dict):
        raise UsageError(f'{where} must be a JSON object such as {{"tests": [...], "lists": {{...}}}}')
    unknown = sorted(set(user) - _SUITE_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; a suite has {', '.join(sorted(_SUITE_KEYS))}")
    if not isinstance(user.get("replace", False), bool):
        raise UsageError(f'{where}: "replace" must be true or false')
    if not isinstance(user.get("tests", []), list):
        raise UsageError(f'{where}: "tests" must be a list of objects')
    return user


def _user_lists(lists, where: str) -> dict[str, list[str]]:
    if not isinstance(lists, dict):
        raise UsageError(f'{where}: "lists" must map list names to lists of words, e.g. {{"dish": ["pasta", "soup"]}}')
    for name, words in lists.items():
        if not _LIST_NAME.fullmatch(name):
            raise UsageError(f"{where}: list name {name!r} must be letters, digits and _, not ending in a digit")
        if not (isinstance(words, list) and words and all(isinstance(w, str) and w.strip() for w in words)):
            raise UsageError(f"{where}: list {name!r} must be a non-empty list of non-empty strings")
    return {name: list(words) for name, words in lists.items()}


def _check_lists(lists: dict, where: str) -> None:
    """Slots inside words (``"I went there on a {day}."``) name lists that exist, and no list
    reaches itself through them (its expansion would never end)."""
    for name, words in lists.items():
        for word in words:
            _templates([word], lists, f"{where}: list {name!r}")
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "open":
            raise UsageError(f"{where}: word lists refer to each other in a circle ({' -> '.join([*path, name])})")
        state[name] = "open"
        for inner in dict.fromkeys(list_of(s) for word in lists[name] for s in placeholders(word)):
            visit(inner, [*path, name])
        state[name] = "done"

    for name in lists:
        visit(name, [])


def _merged_tests(tests: list[dict], changes: list, where: str) -> list[dict]:
    """``tests`` with the user's: a known name replaces (or with ``drop`` removes) that test, a new one is added."""
    by_name = {t["name"]: t for t in tests}
    for raw in changes:
        if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"].strip():
            raise UsageError(f'{where}: every test is an object with a "name", got {json.dumps(raw)[:60]}')
        name = raw["name"]
        if raw.get("drop") is True:
            if name not in by_name:
                raise UsageError(f"{where}: cannot drop {name!r}: no such test (tests: {', '.join(by_name)})")
            del by_name[name]
        else:
            by_name[name] = raw
    return list(by_name.values())


def _count(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_COUNT:
        raise UsageError(f"{where} must be an integer from 1 to {_MAX_COUNT:,}, got {json.dumps(value)[:40]}")
    return value


def _test(raw: dict, lists: dict, where: str) -> Test:
    """One test of a suite file, checked."""
    name = raw["name"]
    at = f"{where}: test {name!r}"
    unknown = sorted(set(raw) - _TEST_KEYS)
    if unknown:
        raise UsageError(f"{at}: unknown key(s) {', '.join(map(repr, unknown))}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise UsageError(f"{at}: \"kind\" must be one of {', '.join(KINDS)}, got {json.dumps(kind)[:40]}")
    family = raw.get("family", name)
    for key, value in (("family", family), ("description", raw.get("description", ""))):
        if not isinstance(value, str):
            raise UsageError(f"{at}: {key!r} must be a string")
    if kind == "mft":
        for key in ("perturb", "must_not", "count", "words", "texts"):
            if key in raw:
                raise UsageError(f"{at}: {key!r} belongs to inv and dir tests; an mft test has \"expect\"")
        return Test(name, family, kind, expect=_expectations(raw.get("expect"), lists, at), description=raw.get("description", ""))
    return _perturbation_test(raw, name, family, kind, lists, at)


def _expectations(expect, lists: dict, at: str) -> dict[str, list[str]]:
    if not isinstance(expect, dict) or not expect:
        raise UsageError(f'{at}: an mft test needs "expect": {{"positive": ["The {{noun}} was {{pos_adj}}."]}}')
    for label, templates in expect.items():
        if label not in EXPECTATIONS:
            raise UsageError(f"{at}: cannot expect {label!r}; expect one of {', '.join(EXPECTATIONS)}")
        _templates(templates, lists, f"{at}, {label!r}")
    return {label: list(templates) for label, templates in expect.items()}


def _perturbation(raw: dict, kind: str, at: str) -> str:
    """The perturbation an inv or dir test names, checked with the options it takes."""
    if "expect" in raw:
        raise UsageError(f'{at}: "expect" belongs to mft tests; an {kind} test has "perturb"')
    perturb = raw.get("perturb")
    if perturb not in PERTURBATIONS:
        raise UsageError(f"{at}: \"perturb\" must be one of {', '.join(PERTURBATIONS)}, got {json.dumps(perturb)[:40]}")
    for key in ("count", "words", "texts"):
        if key in raw and key not in PERTURBATIONS[perturb]:
            raise UsageError(f"{at}: {perturb} takes no {key!r}")
    return perturb


def _perturb_count(raw: dict, at: str) -> int:
    """How many times an inv or dir test perturbs each review (1 unless given)."""
    count = raw.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 5:
        raise UsageError(f"{at}: \"count\" must be an integer from 1 to 5")
    return count


def _must_not(raw: dict, kind: str, at: str) -> str | None:
    """Which way a dir test's score must not move (None for an inv test)."""
    must_not = raw.get("must_not")
    if kind == "dir" and must_not not in ("rise", "fall"):
        raise UsageError(f'{at}: a dir test needs "must_not": "rise" (an added negative) or "fall" (an added positive)')
    if kind == "inv" and must_not is not None:
        raise UsageError(f'{at}: "must_not" belongs to dir tests')
    return must_not


def _perturbation_test(raw: dict, name: str, family: str, kind: str, lists: dict, at: str) -> Test:
    perturb = _perturbation(raw, kind, at)
    count = _perturb_count(raw, at)
    words = raw.get("words")
    if perturb == "swap" and words not in lists:
        raise UsageError(f"{at}: swap needs \"words\", the name of a word list (e.g. first_name, city)")
    texts = raw.get("texts")
    if perturb == "append":
        _templates(texts, lists, at)
    must_not = _must_not(raw, kind, at)
    return Test(name, family, kind, perturb=perturb, count=count, words=words, texts=None if texts is None else list(texts),
                must_not=must_not, description=raw.get("description", ""))


def _templates(templates, lists: dict, at: str) -> None:
    if not (isinstance(templates, list) and templates and all(isinstance(t, str) and t.strip() for t in templates)):
        raise UsageError(f"{at}: templates must be a non-empty list of non-empty strings")
    for template in templates:
        if "{" in _SLOT.sub("", template) or "}" in _SLOT.sub("", template):
            raise UsageError(f"{at}: template {template!r} has a brace that is not a {{list_name}} slot")
        missing = [s for s in placeholders(template) if list_of(s) not in lists]
        if missing:
            raise UsageError(f"{at}: template {template!r} uses {{{missing[0]}}}, but no word list is called {list_of(missing[0])!r}")
        if prod(len(lists[list_of(s)]) for s in placeholders(template)) > _MAX_COMBINATIONS:
            raise UsageError(f"{at}: template {template!r} stands for more than {_MAX_COMBINATIONS:.0e} texts; use fewer slots")
