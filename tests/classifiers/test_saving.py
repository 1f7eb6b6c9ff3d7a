"""What a saved model folder is like from outside: its permissions and its model card."""

from __future__ import annotations

import os

import pandas as pd

from benchmark.__main__ import main
from classifiers import BowSvmClassifier

from .._helpers import fast_flags


def test_a_saved_model_folder_follows_the_umask_like_its_files(tmp_path, tiny):
    """tempfile.mkdtemp makes 0700 folders: a model saved for a team was unreadable to it."""
    clf = BowSvmClassifier(min_df=1).fit(tiny[0], tiny[1])
    folder = clf.save(tmp_path / "model")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert folder.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777 != 0o700
    assert (folder / "README.md").stat().st_mode & 0o777 == 0o666 & ~_umask()
    clf.save(folder)  # replacing it keeps the same permissions
    assert folder.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_model_card_names_the_data_file_not_where_it_lives(tmp_path, sample):
    data = tmp_path / "private" / "home" / "reviews.csv"
    data.parent.mkdir(parents=True)
    pd.DataFrame({"text": sample.texts, "label": sample.labels}).to_csv(data, index=False)
    out = tmp_path / "runs"
    assert main(["-q", "run", "--classifiers", "bow", "--data", str(data), "--save-models", "--output", str(out),
                 *fast_flags("bow")]) == 0
    (run_dir,) = out.iterdir()
    card = (run_dir / "models" / "bow" / "README.md").read_text()
    assert "- Source: `reviews.csv`" in card
    assert str(data.parent) not in card and "private" not in card
