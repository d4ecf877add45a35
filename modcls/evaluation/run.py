"""One evaluation end to end: load rows and systems, predict, compute figures, write the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import ModclsError
from .data import EvalSet, load_files, load_split
from .predict import load_baseline, predict_baseline, predict_model
from .report import build_report, write_report
from .scores import BOOTSTRAP, SEED


def evaluate(
    out_dir: str | Path,
    *,
    model_dir: str | Path | None = None,
    data: list[str | Path] | None = None,
    split: str | None = None,
    config: str | Path | None = None,
    baseline: bool = False,
    policy: str | Path | None = None,
    precision: str = "auto",
    batch_size: int = 32,
    progress: bool = True,
    bootstrap: int = BOOTSTRAP,
    seed: int = SEED,
    plots: bool = True,
) -> dict[str, Any]:
    """Evaluate a model (default: the shipped one) on labelled files and/or a held-out split; write the report.

    ``split`` with ``config`` takes that split of the config's manifest (checksums verified); ``data`` adds
    labelled JSONL files. ``baseline`` also evaluates the TF-IDF baseline saved with the model.
    """
    from ..moderator import Moderator, default_model_dir

    if bool(split) != bool(config):
        raise ModclsError("--split and --config go together")
    rows = EvalSet()
    if split:
        load_split(config, split, into=rows)
    load_files(list(data or []), into=rows)
    if not rows.rows:
        raise ModclsError("no evaluation rows: give --data FILE and/or --split SPLIT --config FILE")
    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    moderator = Moderator.from_pretrained(folder, policy=policy, precision=precision)
    texts = [e.text for e in rows.rows]
    contexts = [e.context for e in rows.rows]
    systems = [predict_model(moderator, texts, batch_size=batch_size, progress=progress, contexts=contexts)]
    if moderator.predictor.reads_context and any(contexts):
        # The context ablation: the same model reading every paragraph alone.
        systems.append(predict_model(moderator, texts, batch_size=batch_size, progress=progress,
                                     name="model-paragraph-alone"))
    if baseline:
        systems.append(predict_baseline(load_baseline(folder), texts, moderator.policy))
    report = build_report(rows, systems, moderator.policy, bootstrap=bootstrap, seed=seed, model_dir=folder)
    write_report(report, out_dir, moderator.topics, moderator.categories, draw=plots)
    return report
