"""One training run end to end: check data, train, calibrate, save, score on held-out rows, baseline."""

from __future__ import annotations

import json
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import __version__
from ..base_encoder import resolve_base
from ..evaluation.scores import category_figures, topic_figures
from ..inference import Predictor
from ..modeling import ModclsModel
from ..policy import Policy
from .baseline import TfidfBaseline
from .calibration import fit_sigmoid_temperature, fit_thresholds, fit_topic_temperature, fit_urgent_thresholds
from .config import TrainingConfig, sha256_file, verify_manifest
from .data import Example, apply_splits, drop_contexts, load_examples
from .trainer import attach_features, encode, fit, predict_logits, seed_everything, write_json


def train(
    config: TrainingConfig,
    *,
    init_from: str | Path | None = None,
    add_data: list[str | Path] | None = None,
    output_dir: str | Path | None = None,
) -> dict[str, Any]:
    """Run training as ``config`` says; return the metrics written to ``metrics.json``."""
    from transformers import AutoTokenizer

    started = time.perf_counter()
    out = Path(output_dir) if output_dir else config.resolve(config.output_dir)
    checksums = verify_manifest(config)
    added = [Path(p) for p in add_data or []]
    checksums |= {str(p): sha256_file(p) for p in added}
    if config.num_threads:
        torch.set_num_threads(config.num_threads)
    seed_everything(config.seed)

    base_rows = load_examples(config)
    splits = apply_splits(base_rows, json.loads(config.resolve(config.splits).read_text(encoding="utf-8")))
    new_rows = load_examples(TrainingConfig(root=config.root), extra=added) if added else []
    known_ids = {e.id for e in base_rows}
    clash = [e.id for e in new_rows if e.id in known_ids]
    if clash:
        from .config import ConfigError

        raise ConfigError(f"--add-data rows reuse ids of the training data: {', '.join(clash[:5])}")
    splits["train"] = splits["train"] + new_rows

    if init_from:
        model = ModclsModel.from_pretrained(init_from)
        if config.context_tokens:
            model.config.context_tokens = config.context_tokens
    else:
        model = ModclsModel.from_base(config.base_model, freeze_embeddings=config.freeze_embeddings,
                                      freeze_layers=config.freeze_layers, context_tokens=config.context_tokens)
    tokenizer = AutoTokenizer.from_pretrained(resolve_base(model.config.base_model))
    before = _score_splits(Predictor(model, tokenizer, cache_size=0), splits, config) if init_from else None

    window = Predictor(model, tokenizer, cache_size=0).window
    train_rows = drop_contexts(splits["train"], config.context_dropout, config.seed)
    train_enc = encode(train_rows, tokenizer, model, config.max_train_tokens)
    val_enc = encode(splits["validation"], tokenizer, model, window)
    if config.cache_frozen_features:
        attach_features(model, train_enc, tokenizer.pad_token_id, config.eval_batch_size, "frozen layers (train)")
        attach_features(model, val_enc, tokenizer.pad_token_id, config.eval_batch_size, "frozen layers (validation)")
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "training_log.jsonl", "w", encoding="utf-8") as log:
        log.write(json.dumps({"event": "start", "train_rows": len(train_enc.ids), "validation_rows":
                              len(val_enc.ids), "train_rows_truncated": train_enc.truncated,
                              "max_train_tokens": config.max_train_tokens}) + "\n")
        history = fit(model, train_enc, val_enc, tokenizer.pad_token_id, config, log)

    calibration = _calibrate(model, val_enc, tokenizer.pad_token_id, config)
    model.config.model_version = config.model_version or f"modcls-{datetime.now(UTC):%Y%m%d}"
    model.config.policy = Policy().to_dict()
    model.save_pretrained(out)
    train_seconds = time.perf_counter() - started

    after = _score_splits(Predictor(model, tokenizer, cache_size=0), splits, config)
    metrics: dict[str, Any] = {"model": after, "calibration": calibration, "training": history}
    if before is not None:
        metrics["before"] = before
    if config.baseline:
        baseline = TfidfBaseline(model.config.topics, model.config.categories).fit(
            splits["train"], splits["validation"], config.seed, config.csa_min_recall)
        baseline.save(out / "baseline")
        metrics["baseline"] = _score_splits(baseline, splits, config)
    write_json(out / "metrics.json", metrics)
    write_json(out / "run.json", _run_record(config, checksums, splits, train_enc.truncated, train_seconds,
                                             init_from, added))
    return metrics


def _calibrate(model: ModclsModel, val: Any, pad_id: int, config: TrainingConfig) -> dict[str, Any]:
    t_logits, s_logits = predict_logits(model, val, pad_id, config.eval_batch_size, "calibrate")
    known = (val.topic >= 0).numpy()
    t_temp = fit_topic_temperature(t_logits[known], val.topic.numpy()[known])
    mask, targets = val.mask.numpy(), val.targets.numpy()
    s_temp = fit_sigmoid_temperature(s_logits, targets, mask)
    scores = 1 / (1 + np.exp(-s_logits / s_temp))
    thresholds = fit_thresholds(scores, targets, mask, model.config.categories, config.csa_min_recall)
    urgent = fit_urgent_thresholds(scores, targets, mask, model.config.categories, thresholds,
                                   config.urgent_min_precision)
    model.config.topic_temperature, model.config.sensitivity_temperature = t_temp, s_temp
    model.config.thresholds = thresholds
    model.config.urgent_thresholds = urgent
    return {"topic_temperature": t_temp, "sensitivity_temperature": s_temp, "thresholds": thresholds,
            "urgent_thresholds": urgent,
            "rule": f"child_sexual_abuse: highest threshold with validation recall >= {config.csa_min_recall}; "
                    "other categories: best validation F1; urgent tier: lowest threshold with validation "
                    f"precision >= {config.urgent_min_precision}"}


def _score_splits(scorer: Any, splits: dict[str, list[Example]], config: TrainingConfig) -> dict[str, Any]:
    """Figures per split and per source (written and real data are never blended into one number)."""
    out: dict[str, Any] = {}
    for split in ("validation", "test"):
        rows = splits[split]
        by_source: dict[str, list[Example]] = {}
        for e in rows:
            by_source.setdefault(e.source, []).append(e)
        out[split] = {source: _figures(scorer, group, config) for source, group in sorted(by_source.items())}
    return out


def _figures(scorer: Any, rows: list[Example], config: TrainingConfig) -> dict[str, Any]:
    texts = [e.text for e in rows]
    if isinstance(scorer, Predictor):
        scores = scorer.predict(texts, batch_size=config.eval_batch_size, contexts=[e.context for e in rows])
        topic = np.stack([s.topic for s in scores])
        sens = np.stack([s.sensitivity for s in scores])
        topics, categories, thresholds = scorer.config.topics, scorer.config.categories, scorer.config.thresholds
    else:
        topic, sens = scorer.predict(texts)
        topics, categories, thresholds = scorer.topics, scorer.categories, scorer.thresholds
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
