"""Evaluation: metric modules against hand-computed values, partial labels, a report on the tiny model."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from modcls.evaluation.metric_modules import compute
from modcls.labels import CATEGORIES, TOPICS
from modcls.training.data import Example, parse_example
from tests.conftest import write_jsonl

ALL_ZERO = {c: 0 for c in CATEGORIES}


def authored(i: int, text: str, topic: str, **flags: int) -> dict:
    return {"id": f"modcls:t-{i}", "text": text, "topic": topic, "sensitivity": ALL_ZERO | flags,
            "source": "modcls-authored", "license": "MIT"}


#: Rows in the data schema: project-written with every label, and real rows with partial labels.
ROWS = [
    authored(1, "La police a mis en examen un homme pour meurtre.", "crime_justice", violent_crime=1),
    authored(2, "Le tribunal a condamné un homme pour viol sur une enfant.", "crime_justice", child_sexual_abuse=1),
    authored(3, "Images de pédocriminalité : un homme mis en examen.", "crime_justice", child_sexual_abuse=1),
    authored(4, "Attentat : la police en examen de la armée.", "crime_justice", terrorism=1, violent_crime=1),
    authored(5, "Match de football : but de la équipe.", "sport"),
    authored(6, "Le gouvernement et le budget de la élection.", "politics"),
    authored(7, "Pluie et soleil : la météo du week-end.", "weather"),
    authored(8, "Réagir à cet article. Abonnez-vous à la newsletter.", "non_editorial"),
    authored(9, "Cocaïne : la police saisit de la drogue.", "crime_justice", drugs=1),
    authored(10, "Le ministre de la santé à la hôpital.", "health"),
    authored(11, "Suicide de un homme : la police a ouvert une enquête.", "crime_justice", self_harm=1),
    authored(12, "Musique et film : le festival.", "arts_culture"),
    {"id": "sib200_fra:1", "text": "Le match de football a été publié.", "topic": "sport", "sensitivity": {},
     "source": "sib200_fra", "license": "CC-BY-SA-4.0"},
    {"id": "sib200_fra:2", "text": "La élection du gouvernement.", "topic": "politics", "sensitivity": {},
     "source": "sib200_fra", "license": "CC-BY-SA-4.0"},
    {"id": "sib200_fra:3", "text": "La science et la santé.", "topic": "health", "sensitivity": {},
     "source": "sib200_fra", "license": "CC-BY-SA-4.0"},
    {"id": "mhc_french:1", "text": "Les femmes sont des ordures.", "topic": None, "sensitivity": {"hate_speech": 1},
     "source": "mhc_french", "license": "CC-BY-4.0"},
    {"id": "mhc_french:2", "text": "Je aime les femmes.", "topic": None, "sensitivity": {"hate_speech": 0},
     "source": "mhc_french", "license": "CC-BY-4.0"},
]


# -- metric modules, against values computed by hand ----------------------------------------------------
def test_topic_module_hand_values():
    r = compute("topic_classification", predictions=[0, 1, 1, 2, 0], references=[0, 1, 2, 2, -1],
                label_names=["a", "b", "c"])
    assert r["support"] == 4  # the -1 row is skipped
    assert r["accuracy"] == pytest.approx(3 / 4)
    assert r["per_class"]["a"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert r["per_class"]["b"] == pytest.approx({"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 1})
    assert r["per_class"]["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert r["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert r["micro_f1"] == pytest.approx(3 / 4)
    assert r["confusion_matrix"] == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    assert "intervals" not in r


def test_topic_module_absent_class_and_sklearn():
    from sklearn.metrics import f1_score

    # a prediction of a class with no gold row: an error of the gold class, not a false positive of its own
    r = compute("topic_classification", predictions=[0, 2], references=[0, 1], num_labels=3)
    assert set(r["per_class"]) == {"0", "1"}
    assert r["accuracy"] == 0.5 and r["macro_f1"] == pytest.approx(0.5)
    assert r["micro_f1"] == pytest.approx(2 / 3) == pytest.approx(f1_score([0, 1], [0, 2], labels=[0, 1],
                                                                            average="micro"))
    rng = np.random.default_rng(1)
    y, p = rng.integers(0, 6, 300), rng.integers(0, 8, 300)
    r = compute("topic_classification", predictions=p, references=y, num_labels=8)
    labels = sorted(set(y.tolist()))
    assert r["macro_f1"] == pytest.approx(f1_score(y, p, labels=labels, average="macro", zero_division=0))
    assert r["micro_f1"] == pytest.approx(f1_score(y, p, labels=labels, average="micro", zero_division=0))
    assert compute("topic_classification", predictions=[1], references=[-1]) == {"support": 0}


def test_sensitivity_module_hand_values():
    scores = [0.9, 0.8, 0.6, 0.4, 0.3, 0.1, 0.7]
    r = compute("sensitivity_detection", predictions=scores, references=[1, 0, 1, 1, 0, 0, -1], threshold=0.5,
                curve_points=50)
    # known rows: flagged 0.9 (pos), 0.8 (neg), 0.6 (pos); missed 0.4 (pos)
    assert (r["positives"], r["support"], r["threshold"]) == (3, 6, 0.5)
    assert r["precision"] == pytest.approx(2 / 3) and r["recall"] == pytest.approx(2 / 3)
    assert r["f1"] == pytest.approx(2 / 3)
    # AP = sum of recall steps x precision: 1/3 * 1 + 1/3 * 2/3 + 1/3 * 3/4
    assert r["average_precision"] == pytest.approx(29 / 36)
    assert r["pr_curve"]["recall"][-1] == 1.0 and r["pr_curve"]["precision"][0] == 1.0
    none = compute("sensitivity_detection", predictions=[0.9, 0.1], references=[0, 0])
    assert none["average_precision"] is None and none["recall"] == 0.0 and none["positives"] == 0


def test_sensitivity_module_average_precision_with_ties_matches_sklearn():
    from sklearn.metrics import average_precision_score

    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 10, 200) / 10  # many ties
    r = compute("sensitivity_detection", predictions=s, references=y)
    assert r["average_precision"] == pytest.approx(average_precision_score(y, s))


def test_routing_module_hand_values():
    r = compute("review_routing", must_review=[1, 0, 1, -1, 1], routed=[1, 1, 0, 0, 1],
                review_score=[3, 2, 0.5, 0.1, 1.5], urgent=[1, 0, 0, 0, 0], urgent_reference=[1, -1, 0, 0, 1])
    assert r["rows"] == 5 and r["routed"] == 3 and r["routed_share"] == pytest.approx(3 / 5)
    assert (r["must_review_positives"], r["must_review_known"]) == (3, 4)
    assert r["must_review_recall"] == pytest.approx(2 / 3)  # rows 0 and 4 of 0, 2, 4
    assert r["routed_precision"] == pytest.approx(2 / 3)  # routed and known: 0, 1, 4
    assert r["urgent_precision"] == 1.0 and r["urgent_recall"] == pytest.approx(1 / 2)
    # by score: row 0 (+), 1 (-), 4 (+), 2 (+), 3 (?): recall 1/3, 1/3, 2/3, 1, 1 at shares .2 .. 1
    assert r["share_at_recall"] == {"0.9": pytest.approx(0.8), "0.95": pytest.approx(0.8), "0.99": pytest.approx(0.8)}
    curve = dict(zip(r["budget_curve"]["share"], r["budget_curve"]["recall"], strict=True))
    assert curve[0.0] == 0.0 and curve[0.5] == pytest.approx(1 / 3, abs=1e-6) and curve[1.0] == 1.0


def test_calibration_module_hand_values():
    r = compute("calibration_error", probabilities=[0.05, 0.15, 0.95, 1.0, 0.5], references=[0, 1, 1, 1, -1],
                n_bins=10)
    # bins: [0, .1) p .05 y 0 | [.1, .2) p .15 y 1 | [.9, 1] p .975 y 1 (two rows) -> (.05 + .85 + 2 x .025) / 4
    assert r["count"] == 4
    assert r["ece"] == pytest.approx(0.2375)
    assert r["mce"] == pytest.approx(0.85)
    assert r["brier"] == pytest.approx((0.05**2 + 0.85**2 + 0.05**2) / 4)
    assert [b["count"] for b in r["bins"]] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]
    assert r["bins"][9]["mean_probability"] == pytest.approx(0.975) and r["bins"][2]["frequency"] is None


def test_bootstrap_intervals_are_deterministic_and_bracket_the_estimate():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 150)
    s = np.clip(y * 0.4 + rng.random(150) * 0.6, 0, 1)
    a = compute("sensitivity_detection", predictions=s, references=y, bootstrap=300, seed=7)
    b = compute("sensitivity_detection", predictions=s, references=y, bootstrap=300, seed=7)
    c = compute("sensitivity_detection", predictions=s, references=y, bootstrap=300, seed=8)
    assert a["intervals"] == b["intervals"] != c["intervals"]
    for key in ("precision", "recall", "f1", "average_precision"):
        low, high = a["intervals"][key]
        assert low <= a[key] <= high and high - low < 0.5


# -- partial labels -----------------------------------------------------------------------------------
def test_partial_labels_are_skipped_not_zero():
    from modcls.evaluation.scores import category_figures, topic_figures

    gold = [{"hate_speech": 1}, {}, {"hate_speech": 0, "drugs": 1}]
    scores = np.zeros((3, len(CATEGORIES)))
    scores[:, CATEGORIES.index("hate_speech")] = [0.9, 0.9, 0.1]
    figures = category_figures(scores, gold, CATEGORIES, {c: 0.5 for c in CATEGORIES})
    assert set(figures) == {"hate_speech", "drugs"}  # categories never labelled are absent
    assert figures["hate_speech"]["support"] == 2 and figures["hate_speech"]["precision"] == 1.0
    assert figures["drugs"]["support"] == 1
    probs = np.eye(len(TOPICS))[[1, 1, 14]]
    t = topic_figures(probs, ["crime_justice", None, "politics"], TOPICS)
    assert t["support"] == 2 and t["accuracy"] == 0.5 and set(t["per_class"]) == {"crime_justice", "politics"}


def test_routing_references_with_partial_labels():
    from modcls.evaluation.references import must_review, urgent_reference
    from modcls.policy import Policy

    def ex(topic, sens):
        return Example("x", "t", topic, sens, "s")

    policy = Policy()
    assert must_review(ex("sport", ALL_ZERO)) == 0
    assert must_review(ex("crime_justice", {})) == 1
    assert must_review(ex(None, {"hate_speech": 1})) == 1
    assert must_review(ex("sport", {})) == -1  # a category could be 1
    assert must_review(ex(None, ALL_ZERO)) == -1  # the topic could be crime_justice
    assert urgent_reference(ex("sport", ALL_ZERO | {"child_sexual_abuse": 1}), policy) == 1
    assert urgent_reference(ex(None, ALL_ZERO), policy) == 0  # no topic routes urgently
    assert urgent_reference(ex("crime_justice", {"hate_speech": 1}), policy) == -1
    override = Policy.from_dict({"topics": {"weather": {"route": "urgent_review", "priority": "urgent"}}})
    assert urgent_reference(ex(None, ALL_ZERO), override) == -1


def test_review_score_cut_reproduces_the_policy():
    from modcls.evaluation.references import review_scores
    from modcls.policy import Policy

    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(len(TOPICS)), 200)
    sens = rng.random((200, len(CATEGORIES))) ** 3
    thresholds = {c: 0.3 + 0.05 * k for k, c in enumerate(CATEGORIES)}
    policy = Policy()
    score = review_scores(probs, sens, TOPICS, CATEGORIES, thresholds, policy)
    routed = [policy.decide(TOPICS[int(p.argmax())], dict(zip(CATEGORIES, s, strict=True)), thresholds).route
              != "allow" for p, s in zip(probs, sens, strict=True)]
    assert ((score >= 1.0) == np.array(routed)).all()


def test_groups_keep_sources_apart():
    from modcls.evaluation.report import groups_of

    rows = [parse_example(r, "test") for r in ROWS]
    groups = groups_of(rows)
    assert list(groups) == ["all", "provenance:real", "source:mhc_french", "source:modcls-authored",
                            "source:sib200_fra"]
    assert len(groups["source:modcls-authored"]) == 12 and len(groups["provenance:real"]) == 5


# -- a report on the tiny model -----------------------------------------------------------------------
#: Folders built once per session and shared with tests/test_card.py, which imports these fixtures.
_BUILT: dict[str, Path] = {}


@pytest.fixture(scope="session")
def tiny_eval_model(tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model with a TF-IDF baseline and a training record, as training leaves a model folder."""
    if "model" not in _BUILT:
        _BUILT["model"] = _build_eval_model(tiny_model_dir, tmp_path_factory)
    return _BUILT["model"]


def _build_eval_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modcls.training.baseline import TfidfBaseline

    folder = tmp_path_factory.mktemp("tiny_eval_model") / "model"
    shutil.copytree(tiny_model_dir, folder)
    rows = [parse_example(r, "test") for r in ROWS]
    TfidfBaseline(list(TOPICS), list(CATEGORIES)).fit(rows, rows, 0, 0.95).save(folder / "baseline")
    run = {"modcls_version": "0.1.0", "created": "2026-01-01T00:00:00+00:00", "git_commit": "0" * 40,
           "versions": {"python": "3.11", "torch": "2.13.0", "transformers": "4.0", "numpy": "2.0"},
           "machine": {"platform": "test", "processor": "", "threads": 2},
           "config": {"freeze_embeddings": True, "freeze_layers": 0, "csa_min_recall": 0.95},
           "data_sha256": {"data/rows.jsonl": "ab" * 32}, "rows": {"train": 30, "validation": 5, "test": 17},
           "rows_by_source": {"train": {"modcls-authored": 20, "sib200_fra": 10},
                              "validation": {"modcls-authored": 5}, "test": {"modcls-authored": 12, "sib200_fra": 3,
                                                                             "mhc_french": 2}},
           "train_rows_truncated": 0, "init_from": None, "added_data": [], "train_seconds": 1.0}
    (folder / "run.json").write_text(json.dumps(run), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def evaluated(tiny_eval_model, tmp_path_factory) -> Path:
    """``modcls evaluate --baseline`` on ROWS with the tiny model; returns the report folder."""
    if "report" not in _BUILT:
        _BUILT["report"] = _build_report(tiny_eval_model, tmp_path_factory)
    return _BUILT["report"]


def _build_report(tiny_eval_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from modcls.cli import main

    tmp = tmp_path_factory.mktemp("evaluated")
    data = write_jsonl(tmp / "rows.jsonl", ROWS)
    out = tmp / "report"
    code = main(["evaluate", "--model", str(tiny_eval_model), "--data", str(data), "--out", str(out), "--baseline",
                 "--bootstrap", "200", "--no-progress", "--precision", "fp32"])
    assert code == 0
    return out


def test_report_files_and_structure(evaluated):
    report = json.loads((evaluated / "report.json").read_text(encoding="utf-8"))
    assert report["data"]["rows"] == len(ROWS)
    assert report["data"]["rows_by_source"] == {"mhc_french": 2, "modcls-authored": 12, "sib200_fra": 3}
    assert report["data"]["provenance"]["modcls-authored"] == "project-written"
    assert set(report["systems"]) == {"model", "baseline"}
    group = report["groups"]["source:sib200_fra"]["results"]["model"]
    assert group["topic"]["support"] == 3 and group["sensitivity"] == {}  # topic-only rows: no category counted
    mhc = report["groups"]["source:mhc_french"]["results"]["model"]
    assert mhc["topic"] == {"support": 0} and set(mhc["sensitivity"]) == {"hate_speech"}
    assert mhc["sensitivity"]["hate_speech"]["support"] == 2
    routing = report["groups"]["source:modcls-authored"]["results"]["model"]["routing"]
    assert routing["must_review_known"] == 12 and routing["must_review_positives"] == 6
    assert routing["urgent_positives"] == 2 and sum(routing["routes"].values()) == 12
    assert "intervals" in report["groups"]["all"]["results"]["model"]["topic"]
    md = (evaluated / "report.md").read_text(encoding="utf-8")
    links = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert len(links) >= 10
    for name in links:
        png = (evaluated / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    for name, g in report["groups"].items():
        assert f"## `{name}`" in md
        if g["results"]["model"]["topic"].get("support"):
            assert set(g["plots"]["confusion"]) == {"model", "baseline"}


def test_report_agrees_with_training_figures(evaluated, tiny_eval_model):
    """Training's own scoring function gives the report's figures on the same rows, model and baseline."""
    from modcls.inference import Predictor
    from modcls.training.baseline import TfidfBaseline
    from modcls.training.config import TrainingConfig
    from modcls.training.run import _figures

    report = json.loads((evaluated / "report.json").read_text(encoding="utf-8"))
    rows = [parse_example(r, "test") for r in ROWS]
    scorers = {"model": Predictor.from_pretrained(tiny_eval_model, cache_size=0),
               "baseline": TfidfBaseline.load(tiny_eval_model / "baseline")}
    for system, scorer in scorers.items():
        for source in ("modcls-authored", "mhc_french", "sib200_fra"):
            trained = _figures(scorer, [e for e in rows if e.source == source], TrainingConfig())
            mine = report["groups"][f"source:{source}"]["results"][system]
            assert trained["rows"] == mine["rows"]
            assert _common(mine["topic"], trained["topic"]) == pytest.approx(_flat(trained["topic"]))
            assert _common(mine["sensitivity"], trained["sensitivity"]) == pytest.approx(_flat(trained["sensitivity"]))
    assert report["groups"]["source:modcls-authored"]["results"]["baseline"]["topic"]["accuracy"] > 0.5


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out |= _flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v}
    return out


def _common(mine: dict, theirs: dict) -> dict:
    """``mine`` flattened, restricted to the keys of ``theirs``."""
    flat = _flat(mine)
    return {k: flat.get(k, "missing") for k in _flat(theirs)}


def test_evaluate_held_out_split(tiny_model_dir, tmp_path):
    from modcls.cli import main

    (tmp_path / "data").mkdir()
    data = write_jsonl(tmp_path / "data" / "rows.jsonl", ROWS)
    digest = hashlib.sha256(data.read_bytes()).hexdigest()
    test_ids = ["modcls:t-1", "modcls:t-5", "sib200_fra:2", "mhc_french:1"]
    splits = {"seed": 0, "dropped": {"modcls:t-12": "near-duplicate"},
              "splits": {r["id"]: "test" if r["id"] in test_ids else "train" for r in ROWS if r["id"] != "modcls:t-12"}}
    (tmp_path / "data" / "splits.json").write_text(json.dumps(splits), encoding="utf-8")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"data": [{"path": "data/rows.jsonl", "sha256": digest}],
                                  "splits": "data/splits.json"}), encoding="utf-8")
    out = tmp_path / "report"
    args = ["evaluate", "--model", str(tiny_model_dir), "--split", "test", "--config", str(config), "--out", str(out),
            "--bootstrap", "20", "--no-plots", "--no-progress"]
    assert main(args) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["data"]["rows"] == 4
    origin = report["data"]["origins"][0]
    assert origin["kind"] == "split" and origin["data_sha256"] == {"data/rows.jsonl": digest}
    assert origin["other_splits_rows"] == {"train": 12, "validation": 0}
    config.write_text(json.dumps({"data": [{"path": "data/rows.jsonl", "sha256": "0" * 64}],
                                  "splits": "data/splits.json"}), encoding="utf-8")
    assert main(args) == 1  # the manifest no longer matches the data: refused


def test_evaluate_usage_errors(tiny_model_dir, tmp_path, capsys):
    from modcls.cli import main

    assert main(["evaluate", "--model", str(tiny_model_dir), "--out", str(tmp_path)]) == 1
    assert "--data" in capsys.readouterr().err
    assert main(["evaluate", "--split", "test", "--out", str(tmp_path)]) == 1
    assert "go together" in capsys.readouterr().err
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"id": "x", "text": "t", "topic": "nope"}])
    assert main(["evaluate", "--model", str(tiny_model_dir), "--data", str(bad), "--out", str(tmp_path)]) == 1
    assert "unknown topic" in capsys.readouterr().err


def test_metric_folders_are_reachable_from_eval_and_package():
    from modcls.evaluation.metric_modules import METRIC_NAMES, METRICS_DIR

    root = Path(__file__).resolve().parents[1]
    for name in METRIC_NAMES:
        assert (METRICS_DIR / name / f"{name}.py").is_file()
        linked = root / "eval" / "metrics" / name / f"{name}.py"
        assert linked.resolve() == (METRICS_DIR / name / f"{name}.py").resolve()


def test_entry_script_runs_the_evaluate_command():
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "eval/evaluate_model.py", "--help"], cwd=root, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "--baseline" in done.stdout and "--split" in done.stdout

