"""Batched scoring: tokenise, cut long paragraphs into windows, run the model by length, combine.

Paragraphs over the model's window are cut on sentence boundaries; their window scores are combined
(mean of topic probabilities, max of sensitivity scores), so nothing is silently truncated.

A paragraph may come with its article's context (the headline). Models trained to read it
(``config.context_tokens > 0``) see ``<s> passage: paragraph </s></s> context </s>`` and pool over the
paragraph's tokens only; the context is cut to ``context_tokens`` tokens (it informs, it is not scored).
Models without context support score the paragraph alone, whatever context is given.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .base_encoder import resolve_base
from .segmentation import chunk_text, normalize_whitespace

if TYPE_CHECKING:  # torch and transformers load with a model, not with this module (the CLI imports it)
    import torch
    from transformers import PreTrainedTokenizerBase

    from .engines.compact import CompactEngine
    from .modeling import ModclsModel

#: Inference paths: ``auto`` (chosen from the CPU), the training model in float32 or bfloat16, or the compact
#: engine (``fast``: bfloat16 products where the CPU has them, else float32; ``int8``: int8 projections).
PRECISIONS = ("auto", "fp32", "bf16", "int8", "fast")
#: The projections the ``int8`` engine runs in int8 (the others stay in the engine's float type).
INT8_PROJECTIONS = ("qkv", "attn_out", "ffn_in", "ffn_out")


def resolve_precision(precision: str) -> str:
    """``precision`` itself, or what ``auto`` picks on this CPU (:func:`modcls.engines.cpu.auto_precision`)."""
    _check_precision(precision)
    if precision != "auto":
        return precision
    from .engines.cpu import auto_precision

    return auto_precision()


@dataclass(frozen=True)
class Scores:
    """Calibrated scores of one paragraph, in the model's label order."""

    topic: np.ndarray
    sensitivity: np.ndarray
    chunks: int = 1


class Predictor:
    """A loaded model and tokenizer that turn paragraphs into :class:`Scores`.

    ``precision`` selects the inference path: ``fp32``; ``bf16`` (bfloat16 weights and activations);
    ``fast`` (:mod:`modcls.engines.compact`: the encoder rebuilt for inference, bfloat16 matrix products
    where the CPU has them, a pruned and memory-mapped vocabulary; :meth:`from_pretrained` builds it once
    per model and caches it); ``int8`` (the same engine with int8 projections, per-channel weight scales
    and per-token activation scales); ``auto`` (one of these, chosen from the CPU's features). Repeated
    paragraphs are answered from a bounded cache keyed by their normalised text (``cache_size=0`` disables it).
    """

    def __init__(
        self,
        model: ModclsModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        precision: str = "fp32",
        cache_size: int = 4096,
    ) -> None:
        precision = resolve_precision(precision)
        #: Most tokens one model window holds (prefix and special tokens included).
        self.window = min(model.config.window_tokens, _position_limit(model))
        self.config = model.config
        self.precision = precision
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str], Scores] = OrderedDict()
        #: The training model (converted to ``precision``); None on the ``fast`` path, which runs ``engine``.
        self.model: ModclsModel | None = None
        self.engine: CompactEngine | None = None
        if precision in ("fast", "int8"):
            from .engines.compact import CompactEngine

            self.engine = CompactEngine.from_model(model, tokenizer.backend_tokenizer.to_str(),
                                                   int8=INT8_PROJECTIONS if precision == "int8" else ())
            self.tokenizer: Any = self.engine.tokenizer
        else:
            self.model = _convert(model.eval(), precision)
            self.tokenizer = tokenizer

    @classmethod
    def from_pretrained(cls, path: str | Path, *, precision: str = "fp32", cache_size: int = 4096) -> Predictor:
        """Load the model in ``path`` and its tokenizer (the folder's own, else its base encoder's).

        With ``fast`` and ``int8`` only the model's cached engine is read (built first if needed).
        """
        precision = resolve_precision(precision)
        if precision in ("fast", "int8"):
            from .engines.compact import load_engine

            int8 = INT8_PROJECTIONS if precision == "int8" else ()
            return cls.from_engine(load_engine(path, int8=int8), cache_size=cache_size)
        from transformers import AutoTokenizer

        from .modeling import ModclsModel

        model = ModclsModel.from_pretrained(path)
        source = path if (Path(path) / "tokenizer.json").is_file() else resolve_base(model.config.base_model)
        tokenizer = AutoTokenizer.from_pretrained(source)
        return cls(model, tokenizer, precision=precision, cache_size=cache_size)

    @classmethod
    def from_engine(cls, engine: CompactEngine, *, cache_size: int = 4096) -> Predictor:
        """A ``fast`` (or ``int8``) predictor on a loaded :class:`~modcls.engines.compact.CompactEngine`."""
        self = cls.__new__(cls)
        precision = "int8" if engine.int8 else "fast"
        self.window, self.config, self.precision = engine.window, engine.config, precision
        self.cache_size, self._cache = cache_size, OrderedDict()
        self.model, self.engine, self.tokenizer = None, engine, engine.tokenizer
        return self

    @property
    def engine_info(self) -> str:
        """How scores are computed: the precision and, on the compact engine, its matrix-product type."""
        return self.precision if self.engine is None else f"{self.precision} ({self.engine.precision} products)"

    @property
    def reads_context(self) -> bool:
        """Whether the model was trained to read an article context beside each paragraph."""
        return int(getattr(self.config, "context_tokens", 0) or 0) > 0

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` as the model sees it: prefix and special tokens included."""
        return len(self._encode([text])[0])

    def _encode(self, texts: list[str], prefix: bool = True) -> list[list[int]]:
        prefixed = [self.config.text_prefix + t for t in texts] if prefix else list(texts)
        if self.engine is not None:
            return self.engine.encode(prefixed)
        # verbose=False: no "longer than the maximum" warning; long paragraphs are cut into windows here.
        return self.tokenizer(prefixed, add_special_tokens=True, verbose=False)["input_ids"]

    def context_ids(self, context: str | None) -> list[int]:
        """The context segment appended after a paragraph's tokens (empty without context support)."""
        if not context or not self.reads_context or not context.strip():
            return []
        return context_segment(self._encode([normalize_whitespace(context)], prefix=False)[0],
                               int(self.config.context_tokens))

    def predict(
        self, texts: Sequence[str], batch_size: int = 32, contexts: Sequence[str | None] | None = None
    ) -> list[Scores]:
        """Scores for each text, in order; ``contexts`` gives each text's article context (or None)."""
        if contexts is not None and len(contexts) != len(texts):
            raise ValueError(f"{len(contexts)} contexts for {len(texts)} texts")
        use = contexts if contexts is not None and self.reads_context else [None] * len(texts)
        keys = [(normalize_whitespace(c) if c else "", normalize_whitespace(t)) for t, c in zip(texts, use)]
        results: dict[int, Scores] = {}
        todo: dict[tuple[str, str], list[int]] = {}
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
    def _remember(self, key: tuple[str, str], scores: Scores) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = scores
        if len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    def _score(self, items: list[tuple[str, str]], batch_size: int) -> list[Scores]:
        """Scores of ``(context, text)`` pairs: windows of the text, each followed by the context segment."""
        segments = {c: self.context_ids(c) for c in {c for c, _ in items}}
        texts = [t for _, t in items]
        starts, ids, pools = [], [], []
        for (context, text), tokens in zip(items, self._encode(texts)):
            starts.append(len(ids))
            extra = segments[context]
            room = self.window - len(extra)
            windows = [tokens] if len(tokens) <= room else self._encode(chunk_text(text, room, self.count_tokens))
            for w in windows:
                ids.append(w + extra)
                pools.append(len(w))
        topic = np.zeros((len(ids), len(self.config.topics)), dtype=np.float32)
        sens = np.zeros((len(ids), len(self.config.categories)), dtype=np.float32)
        for batch in _length_batches(ids, batch_size):
            topic[batch], sens[batch] = self._probabilities([ids[j] for j in batch], [pools[j] for j in batch])
        bounds = [*starts, len(ids)]
        return [Scores(topic[a:b].mean(0), sens[a:b].max(0), b - a) for a, b in zip(bounds, bounds[1:])]

    def _probabilities(self, rows: list[list[int]], pools: list[int]) -> tuple[np.ndarray, np.ndarray]:
        if self.engine is not None:
            return self.engine.probabilities(rows, pools)
        import torch

        input_ids, mask = pad_batch(rows, self.tokenizer.pad_token_id)
        with torch.inference_mode():
            out = self.model(input_ids=input_ids, attention_mask=mask, pool_mask=pooling_mask(pools, mask))
            t, s = self.model.probabilities(out)
        return t.numpy(), s.numpy()


def _length_batches(ids: list[list[int]], batch_size: int) -> Iterator[list[int]]:
    """Batches of similar length, longest first (later, smaller batches reuse the memory of earlier ones)."""
    order = sorted(range(len(ids)), key=lambda j: len(ids[j]), reverse=True)
    for k in range(0, len(order), batch_size):
        yield order[k : k + batch_size]


def pad_batch(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ``input_ids`` and ``attention_mask`` tensors for token-id rows."""
    import torch

    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, row in enumerate(rows):
        input_ids[j, : len(row)] = torch.tensor(row)
        mask[j, : len(row)] = 1
    return input_ids, mask


def pooling_mask(pools: Sequence[int], mask: torch.Tensor) -> torch.Tensor:
    """A mask of each row's first ``pools[j]`` positions (its paragraph tokens), shaped like ``mask``."""
    import torch

    positions = torch.arange(mask.shape[1])[None, :]
    return (positions < torch.tensor(list(pools))[:, None]).to(mask.dtype)


def context_segment(context_ids: list[int], context_tokens: int) -> list[int]:
    """``</s> context </s>`` from the context's own token ids (``<s> ... </s>``), cut to ``context_tokens``."""
    body = context_ids[1:-1][:context_tokens]
    end = context_ids[-1]
    return [end, *body, end] if body else []


def _position_limit(model: ModclsModel) -> int:
    enc = model.backbone.config
    limit = getattr(enc, "max_position_embeddings", 512)
    # RoBERTa-style encoders reserve positions for the padding offset.
    if getattr(enc, "model_type", "") in {"roberta", "xlm-roberta", "camembert"}:
        limit -= (enc.pad_token_id or 0) + 1
    return limit


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")


def _convert(model: ModclsModel, precision: str) -> ModclsModel:
    import torch

    if precision == "bf16":
        return model.to(torch.bfloat16)
    return model
