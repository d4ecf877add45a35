"""The multi-task training loop: masked losses over both heads, class weights, early stopping."""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from transformers import PreTrainedTokenizerBase, get_linear_schedule_with_warmup

from ..inference import context_segment, pad_batch, pooling_mask
from ..modeling import ModclsModel, ModclsOutput
from .config import TrainingConfig
from .data import Example


@dataclass
class Encoded:
    """Token ids and label tensors of a set of examples, aligned by position."""

    ids: list[list[int]]
    topic: torch.Tensor  # long, -100 where unknown
    targets: torch.Tensor  # float [n, categories]
    mask: torch.Tensor  # float [n, categories], 1 where known
    weight: torch.Tensor  # float [n]
    truncated: int = 0
    #: Leading tokens of each row that are the paragraph (pooled); the rest is its context segment.
    pool: list[int] | None = None
    #: Hidden states after the model's frozen lowest layers, one [length, hidden] tensor per row.
    features: list[torch.Tensor] | None = None


def attach_features(model: ModclsModel, data: Encoded, pad_id: int, batch_size: int, desc: str) -> None:
    """Run the frozen lowest layers once and keep their output: training then runs only the upper layers."""
    if model.frozen_depth() == 0:
        return
    features: list[torch.Tensor | None] = [None] * len(data.ids)
    order = sorted(range(len(data.ids)), key=lambda i: len(data.ids[i]))
    for k in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch"):
        batch = order[k : k + batch_size]
        input_ids, mask = pad_batch([data.ids[i] for i in batch], pad_id)
        hidden = model.frozen_features(input_ids, mask)
        for j, i in enumerate(batch):
            features[i] = hidden[j, : len(data.ids[i])].clone()
    data.features = features  # type: ignore[assignment]


def run_batch(model: ModclsModel, data: Encoded, batch: list[int], pad_id: int) -> ModclsOutput:
    """Model outputs for rows ``batch`` of ``data``, from cached features when there are some."""
    input_ids, mask = pad_batch([data.ids[i] for i in batch], pad_id)
    pool = None if data.pool is None else pooling_mask([data.pool[i] for i in batch], mask)
    if data.features is None:
        return model(input_ids=input_ids, attention_mask=mask, pool_mask=pool)
    hidden = torch.nn.utils.rnn.pad_sequence([data.features[i] for i in batch], batch_first=True)
    return model.forward_from_features(hidden, mask, pool)


def encode(
    examples: list[Example], tokenizer: PreTrainedTokenizerBase, model: ModclsModel, max_tokens: int
) -> Encoded:
    """Tokenise with the model's prefix; rows over ``max_tokens`` (specials included) are cut and counted.

    Rows with a context, for a model that reads one, get the context segment after the paragraph.
    """
    config = model.config
    # verbose=False: rows over the limit are cut below, without the tokenizer's length warning.
    encoded = tokenizer([config.text_prefix + e.text for e in examples], add_special_tokens=True,
                        verbose=False)["input_ids"]
    n_context = int(getattr(config, "context_tokens", 0) or 0)
    contexts = {e.context for e in examples if e.context and n_context}
    segments = {c: context_segment(tokenizer(c, add_special_tokens=True, verbose=False)["input_ids"], n_context)
                for c in contexts}
    ids, pool, truncated = [], [], 0
    for e, tokens in zip(examples, encoded):
        extra = segments.get(e.context, []) if e.context and n_context else []
        room = max_tokens - len(extra)
        if len(tokens) > room:
            truncated += 1
            tokens = tokens[: room - 1] + tokens[-1:]
        pool.append(len(tokens))
        ids.append(tokens + extra)
    topic_index = {t: k for k, t in enumerate(config.topics)}
    n, m = len(examples), len(config.categories)
    targets, mask = torch.zeros(n, m), torch.zeros(n, m)
    for i, e in enumerate(examples):
        for k, c in enumerate(config.categories):
            if c in e.sensitivity:
                targets[i, k] = float(e.sensitivity[c])
                mask[i, k] = 1.0
    topic = torch.tensor([topic_index[e.topic] if e.topic else -100 for e in examples], dtype=torch.long)
    weight = torch.tensor([e.weight for e in examples], dtype=torch.float)
    return Encoded(ids, topic, targets, mask, weight, truncated, pool)


def train_batches(lengths: list[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar length: shuffle, sort within pools of 50 batches, shuffle batches."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool = batch_size * 50
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def class_weights(data: Encoded, n_topics: int, max_pos_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Topic class weights (inverse square-root frequency, mean 1) and per-category positive weights."""
    known = data.topic[data.topic >= 0]
    counts = torch.bincount(known, minlength=n_topics).float()
    topic_w = torch.where(counts > 0, (counts.sum() / counts.clamp(min=1)).sqrt(), torch.zeros_like(counts))
    topic_w = topic_w / topic_w[counts > 0].mean()
    pos = (data.targets * data.mask).sum(0)
    neg = ((1 - data.targets) * data.mask).sum(0)
    pos_w = (neg / pos.clamp(min=1)).sqrt().clamp(1.0, max_pos_weight)
    return topic_w, pos_w


@torch.inference_mode()
def predict_logits(model: ModclsModel, data: Encoded, pad_id: int, batch_size: int,
                   desc: str = "predict") -> tuple[np.ndarray, np.ndarray]:
    """Raw head logits for encoded rows, batched by length, returned in input order."""
    model.eval()
    topic = np.zeros((len(data.ids), len(model.config.topics)), dtype=np.float32)
    sens = np.zeros((len(data.ids), len(model.config.categories)), dtype=np.float32)
    order = sorted(range(len(data.ids)), key=lambda i: len(data.ids[i]))
    for k in tqdm(range(0, len(order), batch_size), desc=desc, leave=False, unit="batch"):
        batch = order[k : k + batch_size]
        out = run_batch(model, data, batch, pad_id)
        topic[batch] = out.topic_logits.float().numpy()
        sens[batch] = out.sensitivity_logits.float().numpy()
    return topic, sens


def selection_score(topic_logits: np.ndarray, sens_logits: np.ndarray, data: Encoded) -> float:
    """Validation score for early stopping: mean of topic macro-F1 and mean average precision."""
    from sklearn.metrics import average_precision_score, f1_score

    parts = []
    known = (data.topic >= 0).numpy()
    if known.any():
        y = data.topic.numpy()[known]
        parts.append(f1_score(y, topic_logits[known].argmax(1), average="macro"))
    aps = []
    for k in range(sens_logits.shape[1]):
        m = data.mask[:, k].numpy() > 0
        y = data.targets[:, k].numpy()[m]
        if 0 < y.sum() < len(y):
            aps.append(average_precision_score(y, sens_logits[m, k]))
    if aps:
        parts.append(float(np.mean(aps)))
    return float(np.mean(parts)) if parts else 0.0


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def parameter_groups(model: ModclsModel, config: TrainingConfig) -> list[dict[str, Any]]:
    """Optimizer groups: heads at ``head_learning_rate``; encoder layer i at
    ``learning_rate * layer_lr_decay ** (layers - 1 - i)`` (the top layer at ``learning_rate``)."""
    layers = len(model.backbone.encoder.layer)
    groups: dict[float, list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if not name.startswith("backbone."):
            lr = config.head_learning_rate
        elif name.startswith("backbone.encoder.layer."):
            depth = layers - 1 - int(name.split(".")[3])
            lr = config.learning_rate * config.layer_lr_decay**depth
        else:
            lr = config.learning_rate * config.layer_lr_decay**layers
        groups.setdefault(lr, []).append(param)
    return [{"params": params, "lr": lr} for lr, params in groups.items()]


def fit(
    model: ModclsModel,
    train: Encoded,
    validation: Encoded,
    pad_id: int,
    config: TrainingConfig,
    log: IO[str] | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place; it ends with the weights of its best validation epoch."""
    seed_everything(config.seed)
    rng = random.Random(config.seed)
    topic_w, pos_w = class_weights(train, len(model.config.topics), config.max_pos_weight)
    topic_loss = nn.CrossEntropyLoss(weight=topic_w, ignore_index=-100, reduction="none")
    optimizer = torch.optim.AdamW(parameter_groups(model, config), weight_decay=config.weight_decay)
    lengths = [len(r) for r in train.ids]
    steps_per_epoch = -(-len(lengths) // config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = max(1, min(total, config.max_steps))
    scheduler = get_linear_schedule_with_warmup(optimizer, int(config.warmup_ratio * total), total)
    best_score, best_state, best_epoch, stale, done = -1.0, None, 0, 0, 0
    history = []
    for epoch in range(1, config.epochs + 1):
        model.train()
        started, running = time.perf_counter(), 0.0
        batches = train_batches(lengths, config.batch_size, rng)[: total - done]
        bar = tqdm(batches, desc=f"epoch {epoch}", unit="batch")
        for step, batch in enumerate(bar, start=1):
            loss = _loss(model, train, batch, pad_id, topic_loss, pos_w, config)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            running += loss.item()
            if step % 20 == 0:
                bar.set_postfix(loss=f"{running / step:.4f}")
                _log(log, {"epoch": epoch, "step": step, "loss": running / step})
        done += len(batches)
        t_logits, s_logits = predict_logits(model, validation, pad_id, config.eval_batch_size, "validation")
        score = selection_score(t_logits, s_logits, validation)
        record = {"epoch": epoch, "steps": len(batches), "train_loss": running / max(len(bar), 1),
                  "validation_score": score, "seconds": round(time.perf_counter() - started, 1)}
        history.append(record)
        _log(log, record)
        if score > best_score:
            best_score, best_epoch, stale = score, epoch, 0
            best_state = {k: v.detach().clone() for k, v in model.trained_state_dict().items()}
        else:
            stale += 1
            if stale > config.patience:
                break
        if done >= total:
            break
    if best_state is not None:
        model.load_state_dict(best_state, strict=False)
    model.eval()
    return {"best_epoch": best_epoch, "best_validation_score": best_score, "steps": done, "epochs": history}


def _loss(
    model: ModclsModel,
    data: Encoded,
    batch: list[int],
    pad_id: int,
    topic_loss: nn.Module,
    pos_w: torch.Tensor,
    config: TrainingConfig,
) -> torch.Tensor:
    out = run_batch(model, data, batch, pad_id)
    weight = data.weight[batch]
    topic = data.topic[batch]
    known = topic >= 0
    loss = torch.zeros(())
    if known.any():
        per_row = topic_loss(out.topic_logits, topic)
        loss = loss + config.topic_loss_weight * (per_row * weight)[known].sum() / weight[known].sum()
    cat_mask = data.mask[batch]
    if cat_mask.sum() > 0:
        bce = nn.functional.binary_cross_entropy_with_logits(
            out.sensitivity_logits, data.targets[batch], pos_weight=pos_w, reduction="none"
        )
        w = cat_mask * weight[:, None]
        loss = loss + config.sensitivity_loss_weight * (bce * w).sum() / w.sum()
    return loss


def _log(log: IO[str] | None, record: dict[str, Any]) -> None:
    if log is not None:
        log.write(json.dumps(record) + "\n")
        log.flush()


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
