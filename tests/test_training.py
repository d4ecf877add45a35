import json
import random

import numpy as np
import pytest

from modcls.training.calibration import f1_threshold, fit_topic_temperature, recall_threshold
from modcls.training.config import ConfigError, DataFile, TrainingConfig, sha256_file, verify_manifest
from modcls.training.data import apply_splits, distinct_ngram_ratio, load_examples, make_splits
from modcls.training.run import train
from tests.conftest import write_jsonl

CATS = ["child_sexual_abuse", "sexual_violence", "violent_crime", "terrorism", "drugs", "self_harm", "hate_speech"]


def tiny_rows(n=48, seed=0):
    rng = random.Random(seed)
    kinds = [("le match de football et le but de la équipe", "sport", None),
             ("la police a mis en examen un homme pour le meurtre", "crime_justice", "violent_crime"),
             ("la cocaïne et la drogue dans le procès", "crime_justice", "drugs"),
             ("la pluie et le soleil pour la météo", "weather", None)]
    rows = []
    for i in range(n):
        text, topic, cat = kinds[i % 4]
        words = text.split()
        rng.shuffle(words)
        sens = {c: int(c == cat) for c in CATS}
        if i % 5 == 0:
            sens.pop("hate_speech")  # partial labels: unknown, not 0
        rows.append({"id": f"t-{i}", "text": " ".join(words) + f" {i}", "topic": topic if i % 7 else None,
                     "sensitivity": sens, "source": "tiny", "license": "MIT"})
    return rows


@pytest.fixture
def tiny_config(tmp_path, tiny_base):
    data = write_jsonl(tmp_path / "data.jsonl", tiny_rows())
    config = TrainingConfig(
        output_dir=str(tmp_path / "out"), base_model=str(tiny_base),
        data=[DataFile(path=str(data), sha256=sha256_file(data))],
        splits=str(tmp_path / "splits.json"), epochs=2, batch_size=8, learning_rate=1e-3, max_train_tokens=32,
        baseline=True, min_calibration_positives=0, root=str(tmp_path),
    )
    rows = load_examples(config)
    splits = make_splits(rows, seed=config.seed)
    (tmp_path / "splits.json").write_text(json.dumps(splits))
    return config


def test_same_config_and_seed_give_identical_metrics(tiny_config, tmp_path):
    first = train(tiny_config, output_dir=tmp_path / "a")
    second = train(tiny_config, output_dir=tmp_path / "b")
    assert first["model"] == second["model"]
    assert first["calibration"] == second["calibration"]
    for name in ("config.json", "model.safetensors", "metrics.json", "run.json", "training_log.jsonl",
                 "baseline/baseline.json", "baseline/baseline.safetensors"):
        assert (tmp_path / "a" / name).is_file()
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert set(run) >= {"versions", "config", "data_sha256", "git_commit"}
    assert "baseline" in first and "test" in first["baseline"]


def test_changed_data_is_refused(tiny_config):
    path = tiny_config.resolve(tiny_config.data[0].path)
    path.write_text(path.read_text() + "\n")
    with pytest.raises(ConfigError, match="sha256"):
        verify_manifest(tiny_config)


def test_retraining_adds_rows_and_reports_before_and_after(tiny_config, tmp_path):
    first = tmp_path / "first"
    train(tiny_config, output_dir=first)
    new = write_jsonl(tmp_path / "new.jsonl", [
        {"id": "review-1", "text": "la drogue et la police", "topic": "crime_justice",
         "sensitivity": {c: int(c == "drugs") for c in CATS}, "source": "modcls-review", "license": "MIT"}])
    metrics = train(tiny_config, init_from=first, add_data=[new], output_dir=tmp_path / "second")
    assert metrics["before"].keys() == metrics["model"].keys()
    assert metrics["before"]["test"].keys() == metrics["model"]["test"].keys()
    run = json.loads((tmp_path / "second" / "run.json").read_text())
    assert run["init_from"] == str(first) and str(new) in run["data_sha256"]


def test_split_is_deterministic_and_drops_near_duplicates(tiny_config):
    rows = load_examples(tiny_config)
    rows.append(rows[0].__class__("dup", rows[0].text + " !", rows[0].topic, rows[0].sensitivity, "tiny"))
    a, b = make_splits(rows, seed=1), make_splits(rows, seed=1)
    assert a == b
    assert "dup" in a["dropped"]
    parts = apply_splits(rows, a)
    assert sum(len(v) for v in parts.values()) == len(rows) - 1


def test_thresholds_follow_the_rule():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1])
    y = np.array([1, 1, 0, 1, 0, 1, 0])
    # recall >= 0.75 of 4 positives needs 3 of them: the third-highest positive score.
    assert recall_threshold(scores, y, 0.75) == 0.6
    assert recall_threshold(scores, y, 0.95) == 0.2
    t = f1_threshold(scores, y)
    pred = scores >= t
    assert pred.tolist() == [True, True, True, True, True, True, False]  # best F1 = 0.8 at the 6th cut


def test_temperature_recovers_scaled_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(400, 4))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(4, p=p) for p in probs])
    assert abs(fit_topic_temperature(logits * 3, labels) - 3) < 0.5


def test_distinct_ngram_ratio():
    assert distinct_ngram_ratio(["a b c d e"]) == 1.0
    assert distinct_ngram_ratio(["a b c d", "a b c d"]) == 0.5


def test_stored_thresholds_never_exceed_the_score_they_were_set_on():
    from modcls.training.calibration import fit_thresholds

    scores = np.array([[0.13942792], [0.9], [0.01]])
    targets = np.array([[1.0], [1.0], [0.0]])
    cut = fit_thresholds(scores, targets, np.ones_like(targets), ["child_sexual_abuse"], 0.95)
    assert cut["child_sexual_abuse"] <= 0.13942792
