"""Batched scoring: tokenise, cut long paragraphs into windows, run the model by length, combine.

Paragraphs over the model's window are cut on sentence boundaries; their window scores are combined
(mean of topic probabilities, max of sensitivity scores), so nothing is silently truncated.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .base_encoder import resolve_base
from .modeling import ModclsModel
from .segmentation import chunk_text, normalize_whitespace

PRECISIONS = ("fp32", "bf16", "int8")


@dataclass(frozen=True)
class Scores:
    """Calibrated scores of one paragraph, in the model's label order."""

    topic: np.ndarray
    sensitivity: np.ndarray
    chunks: int = 1


class Predictor:
    """A loaded model and tokenizer that turn paragraphs into :class:`Scores`.

    ``precision`` selects the inference path: ``fp32``; ``bf16`` (bfloat16 weights and activations);
    ``int8`` (dynamic int8 quantisation of the linear layers). Repeated paragraphs are answered from a
    bounded cache keyed by their normalised text (``cache_size=0`` disables it).
    """

    def __init__(
        self,
        model: ModclsModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        precision: str = "fp32",
        cache_size: int = 4096,
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
        self.config = model.config
        self.tokenizer = tokenizer
        self.precision = precision
        self.model = _convert(model.eval(), precision)
        self.cache_size = cache_size
        self._cache: OrderedDict[str, Scores] = OrderedDict()
        #: Most tokens one model window holds (prefix and special tokens included).
        self.window = min(self.config.max_length, _position_limit(model))

    @classmethod
    def from_pretrained(cls, path: str | Path, **kwargs: object) -> Predictor:
        """Load the model in ``path`` and its tokenizer (the folder's own, else its base encoder's)."""
        model = ModclsModel.from_pretrained(path)
        source = path if (Path(path) / "tokenizer.json").is_file() else resolve_base(model.config.base_model)
        tokenizer = AutoTokenizer.from_pretrained(source)
        return cls(model, tokenizer, **kwargs)  # type: ignore[arg-type]

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as the model sees it: prefix and special tokens included."""
        return len(self._encode([text])[0])

    def _encode(self, texts: list[str]) -> list[list[int]]:
        prefix = self.config.text_prefix
        return self.tokenizer([prefix + t for t in texts], add_special_tokens=True)["input_ids"]

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[Scores]:
        """Scores for each text, in order."""
        keys = [normalize_whitespace(t) for t in texts]
        results: dict[int, Scores] = {}
        todo: dict[str, list[int]] = {}
        for i, key in enumerate(keys):
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                results[i] = hit
            else:
                todo.setdefault(key, []).append(i)
        if todo:
            unique = list(todo)
            for key, scores in zip(unique, self._score(unique, batch_size)):
                for i in todo[key]:
                    results[i] = scores
                self._remember(key, scores)
        return [results[i] for i in range(len(texts))]

    # -- internals ------------------------------------------------------------------------------
    def _remember(self, key: str, scores: Scores) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = scores
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _score(self, texts: list[str], batch_size: int) -> list[Scores]:
        owners, ids = [], []
        for i, (text, tokens) in enumerate(zip(texts, self._encode(texts))):
            pieces = [tokens]
            if len(tokens) > self.window:
                pieces = self._encode(chunk_text(text, self.window, self.count_tokens))
            owners += [i] * len(pieces)
            ids += pieces
        topic = np.zeros((len(ids), len(self.config.topics)), dtype=np.float32)
        sens = np.zeros((len(ids), len(self.config.categories)), dtype=np.float32)
        for batch in _length_batches(ids, batch_size):
            input_ids, mask = _pad([ids[j] for j in batch], self.tokenizer.pad_token_id)
            with torch.inference_mode():
                output = self.model(input_ids=input_ids, attention_mask=mask)
                t, s = self.model.probabilities(output)
            topic[batch] = t.numpy()
            sens[batch] = s.numpy()
        out = []
        owners_arr = np.asarray(owners)
        for i in range(len(texts)):
            rows = np.flatnonzero(owners_arr == i)
            out.append(Scores(topic[rows].mean(0), sens[rows].max(0), len(rows)))
        return out


def _length_batches(ids: list[list[int]], batch_size: int) -> Iterator[list[int]]:
    order = sorted(range(len(ids)), key=lambda j: len(ids[j]))
    for k in range(0, len(order), batch_size):
        yield order[k : k + batch_size]


def _pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, row in enumerate(rows):
        input_ids[j, : len(row)] = torch.tensor(row)
        mask[j, : len(row)] = 1
    return input_ids, mask


def _position_limit(model: ModclsModel) -> int:
    enc = model.backbone.config
    limit = getattr(enc, "max_position_embeddings", 512)
    # RoBERTa-style encoders reserve positions for the padding offset.
    if getattr(enc, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
        limit -= (enc.pad_token_id or 0) + 1
    return limit


def _convert(model: ModclsModel, precision: str) -> ModclsModel:
    if precision == "bf16":
        return model.to(torch.bfloat16)
    if precision == "int8":
        from torch.ao.quantization import quantize_dynamic

        return quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model
