"""Retraining that cannot hurt: the installed model stays untouched, calibration is kept where validation
cannot fit it, regressions are refused; and the whole loop (review export -> train -> evaluate -> card)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from modcls.cli import main
from modcls.training.config import DataFile, TrainingConfig, sha256_file
from modcls.training.data import load_examples, make_splits
from tests.conftest import write_jsonl
from tests.test_training import CATS, tiny_rows

ROOT = Path(__file__).resolve().parents[1]


def write_config(folder: Path, tiny_base: Path, rows: list[dict], **options) -> Path:
    """A training config file over ``rows`` with its committed split, in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    data = write_jsonl(folder / "data.jsonl", rows)
    config = TrainingConfig(
        output_dir="out", base_model=str(tiny_base), data=[DataFile(path="data.jsonl", sha256=sha256_file(data))],
        splits="splits.json", epochs=3, batch_size=8, learning_rate=1e-3, head_learning_rate=1e-2,
        max_train_tokens=32, baseline=False, model_version="tiny-start", root=str(folder),
    )
    splits = make_splits(load_examples(config), seed=config.seed)
    (folder / "splits.json").write_text(json.dumps(splits), encoding="utf-8")
    values = {k: v for k, v in config.to_dict().items() if k != "root"} | options
    path = folder / "config.json"
    path.write_text(json.dumps(values, indent=1), encoding="utf-8")
    return path


def fingerprint(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def start(tiny_base, tmp_path_factory) -> tuple[Path, Path]:
    """(config file, trained starting model) on 120 easy rows; validation holds a few positives only."""
    folder = tmp_path_factory.mktemp("retrain")
    config = write_config(folder, tiny_base, tiny_rows(120), min_calibration_positives=0)
    model = folder / "start"
    assert main(["train", "--config", str(config), "--output-dir", str(model)]) == 0
    return config, model


@pytest.fixture(scope="module")
def strict_config(start) -> Path:
    """The starting model's config with the default minimum of validation positives per category (5)."""
    config = json.loads(start[0].read_text())
    config.pop("min_calibration_positives")
    path = start[0].parent / "strict.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


@pytest.fixture
def installed(start, tmp_path, monkeypatch) -> Path:
    """A copy of the starting model standing in for the installed package's default model."""
    import modcls.moderator

    folder = tmp_path / "site-packages" / "modcls" / "default_model"
    shutil.copytree(start[1], folder)
    monkeypatch.setattr(modcls.moderator, "DEFAULT_MODEL_DIR", folder)
    return folder


def test_retrain_without_output_dir_leaves_the_installed_model_untouched(start, installed, tmp_path, monkeypatch,
                                                                           capsys):
    config = json.loads(start[0].read_text())
    config["output_dir"] = str(installed)  # as training/configs/default.yaml: the package's model folder
    path = start[0].parent / "installed.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    before = fingerprint(installed)
    monkeypatch.chdir(tmp_path)
    review = write_jsonl(tmp_path / "new.jsonl", [
        {"id": "review-1", "text": "la drogue et la police", "topic": "crime_justice",
         "sensitivity": {c: int(c == "drugs") for c in CATS}, "source": "modcls-review", "license": "MIT"}])
    args = ["train", "--config", str(path), "--max-steps", "2", "--epochs", "1"]
    assert main([*args, "--init-from", str(installed), "--add-data", str(review)]) == 0
    out, err = capsys.readouterr()
    assert fingerprint(installed) == before
    runs = sorted((tmp_path / "runs").iterdir())
    assert [p.name.startswith("tiny-start-") for p in runs] == [True]
    assert (runs[0] / "model.safetensors").is_file() and str(runs[0].relative_to(tmp_path)) in out
    assert "before" in out and "after" in out  # the comparison table

    # Without --init-from the config's output_dir (the installed model) is not used either.
    assert main(args) == 0
    assert "installed default model" in capsys.readouterr().err
    assert fingerprint(installed) == before and len(list((tmp_path / "runs").iterdir())) == 2
    # The library refuses it too unless asked.
    from modcls.training.config import ConfigError
    from modcls.training.run import train

    with pytest.raises(ConfigError, match="--overwrite"):
        train(TrainingConfig.from_file(path))


def test_calibration_is_kept_when_validation_has_too_few_positives(start, strict_config, tmp_path, capsys):
    start_config = json.loads((start[1] / "config.json").read_text())
    out = tmp_path / "kept"
    code = main(["train", "--config", str(strict_config), "--init-from", str(start[1]), "--output-dir", str(out),
                 "--max-steps", "3", "--epochs", "1", "--limit-rows", "3"])
    err = capsys.readouterr().err
    assert code == 0
    new_config = json.loads((out / "config.json").read_text())
    calibration = json.loads((out / "metrics.json").read_text())["calibration"]
    assert calibration["min_positives"] == 5 and set(calibration["kept_from_start"]) == set(CATS)
    assert new_config["thresholds"] == start_config["thresholds"]
    assert new_config["urgent_thresholds"] == start_config["urgent_thresholds"]
    assert new_config["sensitivity_temperature"] == start_config["sensitivity_temperature"]
    assert "thresholds kept from the starting model" in err and "child_sexual_abuse (0 positives)" in err


def test_training_from_the_base_refuses_what_it_cannot_calibrate(strict_config, tmp_path, capsys):
    code = main(["train", "--config", str(strict_config), "--output-dir", str(tmp_path / "never")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("modcls: error: the validation rows hold too few positives")
    assert "child_sexual_abuse 0" in err and "--init-from" in err
    assert not (tmp_path / "never").exists()


def test_require_no_regression_refuses_a_worse_model(start, strict_config, tmp_path, capsys):
    # Wrong labels, many of them: sport rows called violent crime, weather rows drugs, crime rows neither.
    flipped = []
    for seed in range(2):
        for row in tiny_rows(120, seed=seed):
            cats = {c: 0 for c in row["sensitivity"]}
            kind = int(row["id"].split("-")[1]) % 4  # tiny_rows: 0 sport, 1 violent crime, 2 drugs, 3 weather
            cats["violent_crime"], cats["drugs"] = int(kind == 0), int(kind == 3)
            flipped.append(row | {"id": f"flip-{seed}-{row['id']}", "sensitivity": cats})
    added = write_jsonl(tmp_path / "flipped.jsonl", flipped)
    out = tmp_path / "worse"
    code = main(["train", "--config", str(strict_config), "--init-from", str(start[1]), "--add-data", str(added),
                 "--output-dir", str(out), "--epochs", "2", "--require-no-regression", "--tolerance", "0.05"])
    captured = capsys.readouterr()
    assert code == 1 and "modcls: error: F1 fell by more than 0.05" in captured.err
    assert "regression (> 0.05)" in captured.err
    assert not out.exists()
    rejected = [p for p in tmp_path.iterdir() if p.name.startswith("worse.rejected-")]
    assert len(rejected) == 1
    metrics = json.loads((rejected[0] / "metrics.json").read_text())
    assert metrics["rejected"]["categories"] and metrics["comparison"]["categories"]


def test_quick_loop_review_export_train_evaluate_card(start, tmp_path, capsys):
    """The retraining loop of the README, end to end on the tiny model, through the command line."""
    from modcls.labels import CATEGORIES
    from modcls.results import ParagraphResult
    from modcls.review.store import ReviewQueue

    db = tmp_path / "review.sqlite"
    with ReviewQueue(db) as queue:
        paragraphs = [ParagraphResult(index=i, text=t, topic="crime_justice", topic_scores={"crime_justice": 0.9},
                                      sensitivity={c: 0.1 for c in CATEGORIES}, flags=["drugs"], route="review",
                                      priority="normal", reasons=["test"])
                      for i, t in enumerate(["la cocaïne saisie par la police", "le match de football"])]
        queue.enqueue(paragraphs, article_id="a-1", model_version="tiny-start")
        for _ in paragraphs:
            item = queue.next("alice")
            if item.paragraph_index == 0:
                queue.decide(item.id, "alice", "confirm")
            else:
                queue.decide(item.id, "alice", "correct", topic="sport", categories=[])
    export = tmp_path / "new.jsonl"
    assert main(["review", "export", "--db", str(db), "--out", str(export)]) == 0
    model, report = tmp_path / "model", tmp_path / "report"
    assert main(["train", "--config", str(start[0]), "--init-from", str(start[1]), "--add-data", str(export),
                 "--output-dir", str(model), "--epochs", "1", "--max-steps", "4", "--limit-rows", "40",
                 "--require-no-regression", "--tolerance", "1"]) == 0
    assert json.loads((model / "run.json").read_text())["added_data"] == [str(export)]
    assert main(["evaluate", "--model", str(model), "--split", "test", "--config", str(start[0]), "--out",
                 str(report), "--bootstrap", "20", "--no-plots", "--no-progress"]) == 0
    assert main(["card", "--model", str(model), "--report", str(report)]) == 0
    assert (model / "model_card.md").read_text(encoding="utf-8").startswith("---")
    capsys.readouterr()


def test_quick_config_extends_the_default_one():
    quick = TrainingConfig.from_file(ROOT / "training" / "configs" / "quick.yaml")
    default = TrainingConfig.from_file(ROOT / "training" / "configs" / "default.yaml")
    assert quick.data == default.data and quick.splits == default.splits and quick.root == default.root
    assert quick.max_steps and quick.limit_rows and quick.epochs == 1
    assert quick.output_dir != default.output_dir
