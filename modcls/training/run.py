"""One training run end to end: check data, train, calibrate, save, score on held-out rows, baseline."""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..base_encoder import resolve_base
from ..errors import ModclsError
from ..evaluation.scores import category_figures, topic_figures
from ..inference import Predictor
from ..modeling import ModclsModel
from ..policy import Policy
from .baseline import TfidfBaseline
from .calibration import (
    count_positives,
    fit_sigmoid_temperature,
    fit_thresholds,
    fit_topic_temperature,
    fit_urgent_thresholds,
)
from .compare import compare, format_table, regressions
from .config import ConfigError, TrainingConfig, sha256_file, verify_manifest
from .data import Example, apply_splits, drop_contexts, limit_rows, load_examples
from .output import check_output_dir, commit, set_aside, staging_dir
from .trainer import attach_features, encode, fit, predict_logits, seed_everything, write_json


class RegressionError(ModclsError):
    """A retrained model whose F1 fell, in some category, by more than the tolerance; it was not put in place."""

    def __init__(self, message: str, metrics: dict[str, Any], folder: Path) -> None:
        super().__init__(message)
        self.metrics, self.folder = metrics, folder


def train(
    config: TrainingConfig,
    *,
    init_from: str | Path | None = None,
    add_data: list[str | Path] | None = None,
    output_dir: str | Path | None = None,
    overwrite: bool = False,
    tolerance: float | None = None,
) -> dict[str, Any]:
    """Run training as ``config`` says; return the metrics written to ``metrics.json``.

    The model goes to ``output_dir``, else the config's ``output_dir`` (which may not be the installed
    default model unless ``overwrite``). Files are moved into place only at the end of a successful run.
    With ``init_from``, ``metrics["comparison"]`` sets the new model against the starting one on the same
    held-out rows; with ``tolerance`` too, a fall in a category's F1 beyond it raises
    :class:`RegressionError` and the output folder is left as it was.
    """
    from transformers import AutoTokenizer

    started = time.perf_counter()
    out = Path(output_dir) if output_dir else config.resolve(config.output_dir)
    check_output_dir(out, explicit=output_dir is not None, overwrite=overwrite)
    checksums = verify_manifest(config)
    added = [Path(p) for p in add_data or []]
    checksums |= {str(p): sha256_file(p) for p in added}
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)

    base_rows = load_examples(config)
    splits = apply_splits(base_rows, json.loads(config.resolve(config.splits).read_text(encoding="utf-8")))
    splits = limit_rows(splits, config.limit_rows, config.seed)
    new_rows = load_examples(TrainingConfig(root=config.root), extra=added) if added else []
    known_ids = {e.id for e in base_rows}
    clash = [e.id for e in new_rows if e.id in known_ids]
    if clash:
        raise ConfigError(f"--add-data rows reuse ids of the training data: {', '.join(clash[:5])}")
    splits["train"] = splits["train"] + new_rows

    if init_from:
        model = ModclsModel.from_pretrained(init_from)
        if config.context_tokens:
            model.config.context_tokens = config.context_tokens
    else:
        model = ModclsModel.from_base(config.base_model, freeze_embeddings=config.freeze_embeddings,
                                      freeze_layers=config.freeze_layers, context_tokens=config.context_tokens)
    start = _starting_calibration(model) if init_from else None
    _check_positives(splits["validation"], model.config.categories, config, start)
    tokenizer = AutoTokenizer.from_pretrained(resolve_base(model.config.base_model))
    before = _score_splits(Predictor(model, tokenizer, cache_size=0), splits, config) if init_from else None

    window = Predictor(model, tokenizer, cache_size=0).window
    train_rows = drop_contexts(splits["train"], config.context_dropout, config.seed)
    train_enc = encode(train_rows, tokenizer, model, config.max_train_tokens)
    val_enc = encode(splits["validation"], tokenizer, model, window)
    if config.cache_frozen_features:
        attach_features(model, train_enc, tokenizer.pad_token_id, config.eval_batch_size, "frozen layers (train)")
        attach_features(model, val_enc, tokenizer.pad_token_id, config.eval_batch_size, "frozen layers (validation)")
    staging = staging_dir(out)
    try:
        metrics = _fit_and_save(model, tokenizer, train_enc, val_enc, splits, config, staging, start, before)
        write_json(staging / "run.json", _run_record(config, checksums, splits, train_enc.truncated,
                                                     time.perf_counter() - started, init_from, added))
        fallen = regressions(metrics["comparison"], tolerance) if tolerance is not None and before else []
        if fallen:
            metrics["rejected"] = {"tolerance": tolerance, "categories": fallen}
            write_json(staging / "metrics.json", metrics)
            folder = set_aside(staging, out, "rejected")
            table = format_table(metrics["comparison"], metrics["comparison_split"], tolerance)
            raise RegressionError(
                f"F1 fell by more than {tolerance:g} in {', '.join(fallen)}; {out} was left as it was and the "
                f"retrained model is in {folder}\n{table}", metrics, folder)
        commit(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return metrics


def _fit_and_save(model: ModclsModel, tokenizer: Any, train_enc: Any, val_enc: Any,
                  splits: dict[str, list[Example]], config: TrainingConfig, out: Path,
                  start: dict[str, Any] | None, before: tuple[dict, dict] | None) -> dict[str, Any]:
    """Train, calibrate, save the model into ``out``, score it (and the baseline); write ``metrics.json``."""
    with open(out / "training_log.jsonl", "w", encoding="utf-8") as log:
        log.write(json.dumps({"event": "start", "train_rows": len(train_enc.ids), "validation_rows":
                              len(val_enc.ids), "train_rows_truncated": train_enc.truncated,
                              "max_train_tokens": config.max_train_tokens}) + "\n")
        history = fit(model, train_enc, val_enc, tokenizer.pad_token_id, config, log)

    calibration = _calibrate(model, val_enc, tokenizer.pad_token_id, config, start)
    model.config.model_version = config.model_version or f"modcls-{datetime.now(UTC):%Y%m%d}"
    model.config.policy = Policy().to_dict()
    model.save_pretrained(out)

    after, after_all = _score_splits(Predictor(model, tokenizer, cache_size=0), splits, config)
    metrics: dict[str, Any] = {"model": after, "calibration": calibration, "training": history}
    if before is not None:
        metrics["before"] = before[0]
        split = "test" if splits["test"] else "validation"
        metrics["comparison_split"] = split
        metrics["comparison"] = compare(before[1][split], after_all[split])
    if config.baseline:
        baseline = TfidfBaseline(model.config.topics, model.config.categories).fit(
            splits["train"], splits["validation"], config.seed, config.csa_min_recall)
        baseline.save(out / "baseline")
        metrics["baseline"] = _score_splits(baseline, splits, config)[0]
    write_json(out / "metrics.json", metrics)
    return metrics


def _starting_calibration(model: ModclsModel) -> dict[str, Any]:
    """The calibration a starting model carries: kept for what the new validation rows cannot fit."""
    c = model.config
    return {"topic_temperature": c.topic_temperature, "sensitivity_temperature": c.sensitivity_temperature,
            "thresholds": dict(c.thresholds or {}), "urgent_thresholds": dict(getattr(c, "urgent_thresholds", None)
                                                                              or {})}


def _check_positives(validation: list[Example], categories: list[str], config: TrainingConfig,
                     start: dict[str, Any] | None) -> None:
    """Refuse, before training, a run that could not calibrate some category and has no starting model."""
    counts = {c: sum(e.sensitivity.get(c) == 1 for e in validation) for c in categories}
    short = {c: n for c, n in counts.items() if n < config.min_calibration_positives}
    if short and start is None:
        listed = ", ".join(f"{c} {n}" for c, n in short.items())
        raise ConfigError(
            f"the validation rows hold too few positives to calibrate {listed} (at least "
            f"{config.min_calibration_positives} each, min_calibration_positives): add labelled rows, continue from "
            "a calibrated model with --init-from (its thresholds are then kept for these categories), or set "
            "min_calibration_positives: 0 in the config to accept a threshold of 0.5")


def _calibrate(model: ModclsModel, val: Any, pad_id: int, config: TrainingConfig,
               start: dict[str, Any] | None = None) -> dict[str, Any]:
    """Fit temperatures and thresholds on validation; a category with fewer than
    ``config.min_calibration_positives`` positives keeps the starting model's thresholds, and then the
    sensitivity temperature is kept too (the kept thresholds were set on scores at that temperature)."""
    categories = model.config.categories
    t_logits, s_logits = predict_logits(model, val, pad_id, config.eval_batch_size, "calibrate")
    known = (val.topic >= 0).numpy()
    mask, targets = val.mask.numpy(), val.targets.numpy()
    positives = count_positives(targets, mask, categories)
    minimum = config.min_calibration_positives
    kept = [c for c in categories if positives[c] < minimum] if start else []
    notes = []
    if start and known.sum() < minimum:
        t_temp = float(start["topic_temperature"])
        notes.append(f"topic temperature kept from the starting model ({int(known.sum())} validation rows with a "
                     f"topic, fewer than {minimum})")
    else:
        t_temp = fit_topic_temperature(t_logits[known], val.topic.numpy()[known])
    if kept:
        s_temp = float(start["sensitivity_temperature"])
        listed = ", ".join(f"{c} ({positives[c]} positives)" for c in kept)
        notes.append(f"thresholds kept from the starting model for {listed}: fewer than {minimum} validation "
                     "positives; the sensitivity temperature is kept with them")
    else:
        s_temp = fit_sigmoid_temperature(s_logits, targets, mask)
    scores = 1 / (1 + np.exp(-s_logits / s_temp))
    thresholds = fit_thresholds(scores, targets, mask, categories, config.csa_min_recall)
    for c in kept:
        thresholds[c] = float(start["thresholds"].get(c, thresholds[c]))
    urgent = fit_urgent_thresholds(scores, targets, mask, categories, thresholds, config.urgent_min_precision)
    for c in kept:
        if c in start["urgent_thresholds"]:
            urgent[c] = float(start["urgent_thresholds"][c])
        else:
            urgent.pop(c, None)
    model.config.topic_temperature, model.config.sensitivity_temperature = t_temp, s_temp
    model.config.thresholds = thresholds
    model.config.urgent_thresholds = urgent
    return {"topic_temperature": t_temp, "sensitivity_temperature": s_temp, "thresholds": thresholds,
            "urgent_thresholds": urgent, "validation_positives": positives, "min_positives": minimum,
            "kept_from_start": kept, "notes": notes,
            "rule": f"child_sexual_abuse: highest threshold with validation recall >= {config.csa_min_recall}; "
                    "other categories: best validation F1; urgent tier: lowest threshold with validation "
                    f"precision >= {config.urgent_min_precision}; a category with fewer than {minimum} "
                    "validation positives keeps the starting model's thresholds"}


def _score_splits(scorer: Any, splits: dict[str, list[Example]],
                  config: TrainingConfig) -> tuple[dict[str, Any], dict[str, Any]]:
    """Figures per split and per source (written and real data are never blended into one number), and
    per split over all its rows (for comparing two models on the same rows). One prediction per row."""
    by_source: dict[str, Any] = {}
    pooled: dict[str, Any] = {}
    for split in ("validation", "test"):
        rows = splits[split]
        if not rows:
            by_source[split], pooled[split] = {}, {"rows": 0}
            continue
        topic, sens, labels = _predict(scorer, rows, config)
        groups: dict[str, list[int]] = {}
        for i, e in enumerate(rows):
            groups.setdefault(e.source, []).append(i)
        by_source[split] = {source: _scored(topic[idx], sens[idx], labels, [rows[i] for i in idx])
                            for source, idx in sorted(groups.items())}
        pooled[split] = _scored(topic, sens, labels, rows)
    return by_source, pooled


def _predict(scorer: Any, rows: list[Example], config: TrainingConfig) -> tuple[np.ndarray, np.ndarray, tuple]:
    texts = [e.text for e in rows]
    if isinstance(scorer, Predictor):
        scores = scorer.predict(texts, batch_size=config.eval_batch_size, contexts=[e.context for e in rows])
        topic = np.stack([s.topic for s in scores])
        sens = np.stack([s.sensitivity for s in scores])
        return topic, sens, (scorer.config.topics, scorer.config.categories, scorer.config.thresholds)
    topic, sens = scorer.predict(texts)
    return np.asarray(topic), np.asarray(sens), (scorer.topics, scorer.categories, scorer.thresholds)


def _figures(scorer: Any, rows: list[Example], config: TrainingConfig) -> dict[str, Any]:
    """Figures of ``scorer`` (a predictor or the baseline) on ``rows``."""
    return _scored(*_predict(scorer, rows, config), rows)


def _scored(topic: np.ndarray, sens: np.ndarray, labels: tuple, rows: list[Example]) -> dict[str, Any]:
    topics, categories, thresholds = labels
    return {
        "rows": len(rows),
        "topic": topic_figures(topic, [e.topic for e in rows], topics),
        "sensitivity": category_figures(sens, [e.sensitivity for e in rows], categories, thresholds),
    }


def _run_record(config: TrainingConfig, checksums: dict[str, str], splits: dict[str, list[Example]],
                truncated: int, seconds: float, init_from: Any, added: list[Path]) -> dict[str, Any]:
    import transformers

    return {
        "modcls_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": _git_commit(Path(config.root)),
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "numpy": np.__version__},
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "threads": torch.get_num_threads()},
        "config": config.to_dict(),
        "data_sha256": checksums,
        "rows": {split: len(rows) for split, rows in splits.items()},
        "rows_by_source": {split: _count_sources(rows) for split, rows in splits.items()},
        "train_rows_truncated": truncated,
        "init_from": str(init_from) if init_from else None,
        "added_data": [str(p) for p in added],
        "train_seconds": round(seconds, 1),
    }


def _count_sources(rows: list[Example]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in rows:
        counts[e.source] = counts.get(e.source, 0) + 1
    return counts


def _git_commit(root: Path) -> str | None:
    try:
        result = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return result.stdout.strip() + ("-dirty" if dirty else "") if result.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None
