"""Tests for ``dataset._hf.load_hf`` on ``save_to_disk`` folders (no network)."""

import pytest

datasets = pytest.importorskip("datasets")

from dataset import DataError  # noqa: E402
from dataset._hf import _load_hub, load_hf  # noqa: E402

from .._helpers import one_line_error  # noqa: E402

TEXTS = [
    "Loved every bite, will return.",
    "Terrible service and cold food.",
    "Great value for money.",
    "Never going back there.",
]
LABELS = [1, 0, 1, 0]
POLARITY = datasets.Features(
    {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Folders written by save_to_disk: one Dataset, one DatasetDict, one with stars."""
    root = tmp_path_factory.mktemp("hf")
    single = datasets.Dataset.from_dict({"text": TEXTS, "label": LABELS}, features=POLARITY)
    single.save_to_disk(str(root / "single"))

    test = datasets.Dataset.from_dict(
        {"text": ["Awful.", "Superb!", "Meh, bad.", "No label here."], "label": [0, 1, 0, -1]},
        features=POLARITY,
    )
    datasets.DatasetDict(train=single, test=test).save_to_disk(str(root / "dict"))

    stars = datasets.Dataset.from_dict(
        {
            "review_body": TEXTS + ["It was fine."],
            "stars": [5, 1, 4, 2, 3],
            "label": ["x", "y", "x", "y", "x"],  # decoy: would be picked by default
        }
    )
    stars.save_to_disk(str(root / "stars"))

    words = datasets.Dataset.from_dict(
        {"sentence": TEXTS},
    ).add_column(
        "sentiment",
        [1, 0, 1, 0],
        feature=datasets.ClassLabel(names=["negative", "positive"]),
    )
    words.save_to_disk(str(root / "words"))
    return root



def test_single_dataset_maps_classlabel_names(saved):
    spec = f"hf:{saved / 'single'}"
    data = load_hf(spec)
    assert data.texts == TEXTS
    assert data.labels.tolist() == LABELS
    assert data.label_names == {0: "neg", 1: "pos"}
    assert data.source == spec
    assert data.format == "hf"
    assert data.n_read == 4


def test_dataset_dict_uses_train_split_by_default(saved):
    data = load_hf(f"hf:{saved / 'dict'}")
    assert data.texts == TEXTS
    assert data.labels.tolist() == LABELS


def test_dataset_dict_split_is_selected(saved):
    data = load_hf(f"hf:{saved / 'dict'}:test")
    assert data.texts == ["Awful.", "Superb!", "Meh, bad."]
    assert data.labels.tolist() == [0, 1, 0]
    # ClassLabel -1 means "no label" and is counted like any missing label.
    assert data.dropped == {"missing label": 1}
    assert data.n_read == 4


def test_classlabel_names_negative_positive_are_recognised(saved):
    data = load_hf(f"hf:{saved / 'words'}")
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.label_names == {0: "negative", 1: "positive"}


def test_explicit_columns_and_star_threshold(saved):
    data = load_hf(
        f"hf:{saved / 'stars'}", text_column="review_body", label_column="stars", star_threshold=3
    )
    assert data.texts == TEXTS
    assert data.labels.tolist() == [1, 0, 1, 0]
    assert data.dropped == {"neutral star rating (3)": 1}
    assert data.label_names == {0: "1-2 stars", 1: "4-5 stars"}


def test_star_labels_without_threshold_are_five_ordered_classes(saved):
    data = load_hf(f"hf:{saved / 'stars'}", text_column="review_body", label_column="stars")
    assert data.classes == ["1", "2", "3", "4", "5"] and data.ordinal
    assert [data.classes[k] for k in data.labels] == ["5", "1", "4", "2", "3"]


def test_label_map_applies_to_classlabel_names(saved):
    data = load_hf(f"hf:{saved / 'single'}", label_map={"neg": 1, "pos": 0})
    assert data.labels.tolist() == [0, 1, 0, 1]


def test_missing_column_lists_columns(saved):
    spec = f"hf:{saved / 'stars'}"
    with pytest.raises(DataError) as excinfo:
        load_hf(spec, text_column="body_text")
    one_line_error(excinfo, spec, "column 'body_text' not found", "review_body, stars, label")


def test_unknown_split_lists_available_splits(saved):
    with pytest.raises(DataError) as excinfo:
        load_hf(f"hf:{saved / 'dict'}:validation")
    one_line_error(excinfo, "no split 'validation'", "available: train, test")


def test_split_on_single_dataset_is_refused(saved):
    with pytest.raises(DataError) as excinfo:
        load_hf(f"hf:{saved / 'single'}:test")
    one_line_error(excinfo, "single data set", "without ':test'")


def test_missing_folder_fails_fast(tmp_path):
    spec = f"hf:{tmp_path / 'nowhere'}"
    with pytest.raises(DataError) as excinfo:
        load_hf(spec)
    one_line_error(excinfo, spec, "no such folder")


def test_folder_not_written_by_save_to_disk(tmp_path):
    (tmp_path / "reviews.csv").write_text("text,label\na,1\n")
    with pytest.raises(DataError) as excinfo:
        load_hf(f"hf:{tmp_path}")
    one_line_error(excinfo, "save_to_disk")
    with pytest.raises(DataError) as excinfo:
        load_hf(f"hf:{tmp_path / 'reviews.csv'}")
    one_line_error(excinfo, "without the hf: prefix")


def test_unknown_hub_name_offline_fails_fast(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # Both libraries read these variables once, at import; the module-level
    # flags must follow so that no request (and no retry) is attempted.
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")

    spec = "hf:sentibench-tests/no-such-dataset:test"
    with pytest.raises(DataError) as excinfo:
        load_hf(spec)
    one_line_error(excinfo, spec, "sentibench-tests/no-such-dataset")


def test_spec_without_prefix_or_name_is_refused():
    with pytest.raises(DataError) as excinfo:
        load_hf("imdb")
    one_line_error(excinfo, "hf:NAME")
    with pytest.raises(DataError) as excinfo:
        load_hf("hf:")
    one_line_error(excinfo, "no data set name")


def test_hub_name_is_loaded_with_split(monkeypatch):
    calls = []

    def fake_load_dataset(name, split=None):
        calls.append((name, split))
        return datasets.Dataset.from_dict({"text": TEXTS, "label": LABELS}, features=POLARITY)

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_hf("hf:stanfordnlp/imdb:train[:4]")
    assert calls == [("stanfordnlp/imdb", "train[:4]")]
    assert data.labels.tolist() == LABELS
    assert data.source == "hf:stanfordnlp/imdb:train[:4]"
    load_hf("hf:imdb")
    assert calls[-1] == ("imdb", "train")


def test_hub_unknown_split_lists_available_splits(tmp_path, monkeypatch):
    # The real `datasets` error for an unknown split (load_dataset reads a folder of
    # CSV files offline exactly as it reads a hub repository), so the message the code
    # parses is the library's own, not a copy of it.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # datasets reads HF_DATASETS_CACHE once, at import: the module constant must follow,
    # or the test writes into the user's ~/.cache/huggingface.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "cache")
    repo = tmp_path / "reviews"
    repo.mkdir()
    for split in ("train", "test"):
        (repo / f"{split}.csv").write_text("text,label\ngood,1\nbad,0\n")
    with pytest.raises(DataError) as excinfo:
        _load_hub(datasets, "hf:reviews:dev", str(repo), "dev")
    one_line_error(excinfo, "no split 'dev'", "available: train, test")


def test_datasets_before_4_is_refused_because_it_can_run_loading_scripts(monkeypatch):
    monkeypatch.setattr(datasets, "__version__", "3.6.0")
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("must not load with datasets 3"))
    with pytest.raises(DataError) as excinfo:
        load_hf("hf:someone/reviews")
    one_line_error(excinfo, "loading code", "datasets>=4.0")


def test_a_column_of_lists_is_one_line_not_stringified(tmp_path):
    data = datasets.Dataset.from_dict({"text": [["good", "x"], ["bad"], ["fine"]], "label": [1, 0, 1]})
    data.save_to_disk(str(tmp_path / "lists"))
    with pytest.raises(DataError) as excinfo:
        load_hf(f"hf:{tmp_path / 'lists'}")
    one_line_error(excinfo, "column 'text' holds a list at row 1")
