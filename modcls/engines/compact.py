"""The fast path: the model's BERT encoder rebuilt as a compact inference-only torch module.

What it does differently from the training model (:class:`modcls.modeling.ModclsModel` on transformers):

* matrix products in bfloat16 where the CPU computes them natively (AMX or AVX512-BF16, through oneDNN),
  float32 elsewhere; layer norms, pooling and heads accumulate in float32;
* one fused Q/K/V projection per layer, torch's fused attention, the bias and GELU of the feed-forward
  layer fused into its matrix product where oneDNN offers it;
* a word-embedding table pruned to the Latin-script pieces (:mod:`.vocab`), stored in float16 and
  memory-mapped, so that only the rows a corpus uses take memory; the tokenizer is pruned alike;
* no transformers import and no reading of the full model once built.

:func:`load_engine` builds an engine for a model folder on first use, saves it atomically under
``$MODCLS_HOME/engines/`` keyed by the fingerprint of everything it is made from, and loads it from
there afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F

from ..base_encoder import _clean_leftovers, _locked, _new_sibling, base_fingerprint, modcls_home, resolve_base
from ..errors import ModclsError
from .vocab import prune_unigram

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from ..modeling import ModclsModel

#: Bumped whenever the saved layout or the numerics of a built engine change (old builds are ignored).
ENGINE_FORMAT = 1
ENGINE_DIR = "engines"
#: Batches are padded to a multiple of this many tokens (see :meth:`CompactEngine.logits`).
WIDTH_STEP = 16
_FILES = ("engine.json", "config.json", "tokenizer.json", "weights.safetensors", "embeddings.npy")


class EngineError(ModclsError, RuntimeError):
    """A model the fast path cannot run (e.g. its encoder is not BERT-like)."""


class SavedConfig(SimpleNamespace):
    """The model's :class:`~modcls.modeling.ModclsConfig` read back from JSON, without transformers.

    Every saved field is an attribute (``topics``, ``categories``, ``thresholds``, ``policy``...).
    """

    def to_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def native_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices natively (AMX tiles or AVX512-BF16)."""
    cpu = getattr(torch, "cpu", None)
    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(cpu, name, lambda: False)()) for name in checks)


def _linear_gelu_op() -> Any:
    """oneDNN's linear with a fused GELU epilogue, when this torch build has it."""
    op = getattr(torch.ops.mkldnn, "_linear_pointwise", None)
    if op is None or not torch.backends.mkldnn.is_available():
        return None
    try:
        x = torch.ones(2, 4, dtype=torch.bfloat16)
        w = torch.ones(3, 4, dtype=torch.bfloat16)
        op(x, w, torch.zeros(3, dtype=torch.bfloat16), "gelu", [], "none")
    except (RuntimeError, NotImplementedError):
        return None
    return op


#: The projections of each layer, in the order they run.
PROJECTIONS = ("qkv", "attn_out", "ffn_in", "ffn_out")


def quantize_weight(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 weights with one scale per output channel: ``(int8 [in, out], float32 scales [out])``."""
    scale = weight.float().abs().amax(dim=1).clamp(min=1e-8) / 127.0
    q = torch.round(weight.float() / scale[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.t().contiguous(), scale


def int8_linear(x: torch.Tensor, weight_t: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """``x @ W.T + b`` with int8 weights (per output channel) and activations quantized per token on the fly.

    The product runs in ``torch._int_mm`` (int8 x int8 -> int32, VNNI/AMX kernels through oneDNN); the result
    is rescaled to float32.
    """
    shape = x.shape
    flat = x.reshape(-1, shape[-1]).float()
    x_scale = flat.abs().amax(dim=1, keepdim=True).clamp_(min=1e-8) / 127.0
    x_q = torch.round(flat / x_scale).clamp_(-127, 127).to(torch.int8)
    out = torch._int_mm(x_q, weight_t).float().mul_(x_scale).mul_(scale).add_(bias)
    return out.view(*shape[:-1], -1)


class CompactEngine:
    """Token ids in, calibrated topic probabilities and sensitivity scores out.

    ``dtype`` of the matrix products: ``None`` picks bfloat16 on CPUs with native bfloat16, else float32.
    ``int8``: the projections named there (default none; see :data:`PROJECTIONS`) run as int8 products
    with per-channel weight scales and per-token activation scales; the rest stays in ``dtype``.
    """

    def __init__(
        self,
        meta: dict[str, Any],
        config: Any,
        tokenizer: Tokenizer,
        tensors: dict[str, torch.Tensor],
        embeddings: np.ndarray,
        dtype: torch.dtype | None = None,
        int8: Sequence[str] = (),
    ) -> None:
        self.meta = meta
        self.config = config
        self.tokenizer = tokenizer
        self.dtype = dtype or (torch.bfloat16 if native_bf16() else torch.float32)
        self.pad_id: int = int(meta["pad_id"])
        self.heads: int = int(meta["heads"])
        self.eps: float = float(meta["eps"])
        self.embeddings = embeddings  # (kept vocabulary, hidden) float16, usually memory-mapped
        self.layers: int = int(meta["layers"])
        # Encoder layers compute in ``dtype``; embeddings, pooling and heads in float32.
        self.w = {k: (v.to(self.dtype) if k.startswith("layer.") else v.float()).contiguous()
                  for k, v in tensors.items()}
        self._linear_gelu = _linear_gelu_op() if self.dtype == torch.bfloat16 else None
        unknown = set(int8) - set(PROJECTIONS)
        if unknown:
            raise EngineError(f"unknown projection(s) {sorted(unknown)}; expected some of {PROJECTIONS}")
        self.int8 = tuple(p for p in PROJECTIONS if p in int8)
        #: int8 projections: name -> (weight [in, out] int8, scale [out] float32, bias float32).
        self.q: dict[str, tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = {}
        for i in range(self.layers):
            for proj in self.int8:
                key = f"layer.{i}.{proj}."
                weight_t, scale = quantize_weight(self.w.pop(key + "weight"))
                self.q[key] = (weight_t, scale, self.w[key + "bias"].float())

    @property
    def precision(self) -> str:
        """``int8``, ``bf16`` or ``fp32``: how the encoder's matrix products run."""
        if self.int8:
            return "int8"
        return "bf16" if self.dtype == torch.bfloat16 else "fp32"

    @property
    def window(self) -> int:
        """Most tokens one model window holds: the config's ``window_tokens``, within the position table."""
        return min(int(self.config.window_tokens), int(self.meta["positions"]))

    # -- construction ---------------------------------------------------------------------------
    @classmethod
    def from_model(
        cls, model: ModclsModel, tokenizer_json: str, dtype: torch.dtype | None = None, int8: Sequence[str] = ()
    ) -> CompactEngine:
        """An engine for a loaded model and its tokenizer (the ``tokenizers`` JSON of a fast tokenizer)."""
        from tokenizers import Tokenizer

        meta, tensors, table, pruned = _extract(model, tokenizer_json)
        config = SavedConfig(**json.loads(model.config.to_json_string(use_diff=False)))
        return cls(meta, config, Tokenizer.from_str(pruned), tensors, table, dtype, int8)

    @classmethod
    def load(cls, folder: str | Path, dtype: torch.dtype | None = None, int8: Sequence[str] = ()) -> CompactEngine:
        """Load an engine saved by :meth:`save`."""
        from safetensors import safe_open
        from tokenizers import Tokenizer

        folder = Path(folder)
        meta = json.loads((folder / "engine.json").read_text(encoding="utf-8"))
        config = SavedConfig(**json.loads((folder / "config.json").read_text(encoding="utf-8")))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        dtype = dtype or (torch.bfloat16 if native_bf16() else torch.float32)
        with safe_open(str(folder / "weights.safetensors"), framework="pt") as f:  # one float32 tensor at a time
            tensors = {k: f.get_tensor(k).to(dtype if k.startswith("layer.") else torch.float32) for k in f.keys()}  # noqa: SIM118
        table = np.load(folder / "embeddings.npy", mmap_mode="r")
        return cls(meta, config, tokenizer, tensors, table, dtype, int8)

    def save(self, folder: str | Path) -> None:
        """Write the engine's files into ``folder`` (weights in float32, embeddings in float16)."""
        from safetensors.torch import save

        if self.int8:
            raise EngineError("an int8 engine is made from a saved float engine at load time; save that one")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "engine.json").write_text(json.dumps(self.meta, indent=1), encoding="utf-8")
        (folder / "config.json").write_text(json.dumps(self.config.to_dict(), indent=1), encoding="utf-8")
        self.tokenizer.save(str(folder / "tokenizer.json"))
        tensors = {k: v.float().contiguous() for k, v in self.w.items()}
        (folder / "weights.safetensors").write_bytes(save(tensors))  # default permissions, like the other files
        np.save(folder / "embeddings.npy", np.ascontiguousarray(self.embeddings, dtype=np.float16))

    # -- inference ------------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (special tokens included, no truncation).

        One text at a time: the batch API starts a thread pool whose per-thread allocator arenas cost
        ~40 MB of resident memory, for ~1% of the throughput.
        """
        return [self.tokenizer.encode(t, add_special_tokens=True).ids for t in texts]

    def probabilities(
        self, rows: Sequence[Sequence[int]], pools: Sequence[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Topic probabilities (softmax) and sensitivity scores (sigmoids) of a batch of token-id rows.

        ``pools[j]``: how many leading tokens of row j are the paragraph (pooled); the rest is its context.
        """
        topic, sens = self.logits(rows, pools)
        topic = torch.softmax(topic / float(self.config.topic_temperature), dim=-1)
        sens = torch.sigmoid(sens / float(self.config.sensitivity_temperature))
        return topic.numpy(), sens.numpy()

    @torch.inference_mode()
    def logits(
        self, rows: Sequence[Sequence[int]], pools: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw topic and sensitivity logits (float32) of a batch of token-id rows.

        Rows are padded to a multiple of :data:`WIDTH_STEP` tokens: a few padding positions (masked out)
        buy far fewer distinct shapes, whose oneDNN kernels are compiled and cached once each.
        """
        width = self.padded_width(max(len(r) for r in rows))
        ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
        keep = np.zeros((len(rows), width), dtype=bool)
        pool = np.zeros((len(rows), width), dtype=bool)
        for j, row in enumerate(rows):
            ids[j, : len(row)] = row
            keep[j, : len(row)] = True
            pool[j, : len(row) if pools is None else pools[j]] = True
        mask = torch.from_numpy(keep)
        w = self.w
        x = torch.from_numpy(self.embeddings[ids].astype(np.float32))
        x = x + w["position"][:width] + w["token_type"]
        x = F.layer_norm(x, x.shape[-1:], w["embed_norm.weight"], w["embed_norm.bias"], self.eps).to(self.dtype)
        bias = None
        if not bool(keep.all()):
            bias = torch.zeros(mask.shape, dtype=self.dtype).masked_fill_(~mask, float("-inf"))[:, None, None, :]
        for i in range(self.layers):
            x = self._layer(x, bias, f"layer.{i}.")
        m = torch.from_numpy(pool).unsqueeze(-1).to(torch.float32)
        pooled = (x.float() * m).sum(1) / m.sum(1).clamp(min=1.0)
        topic = F.linear(pooled, w["topic_head.weight"], w["topic_head.bias"])
        sens = F.linear(pooled, w["sensitivity_head.weight"], w["sensitivity_head.bias"])
        return topic, sens

    def padded_width(self, longest: int) -> int:
        """The width a batch whose longest row has ``longest`` tokens is padded to."""
        return min(-(-longest // WIDTH_STEP) * WIDTH_STEP, max(longest, int(self.meta["positions"])))

    def _linear(self, x: torch.Tensor, name: str) -> torch.Tensor:
        quantized = self.q.get(name)
        if quantized is not None:
            return int8_linear(x, *quantized).to(self.dtype)
        return F.linear(x, self.w[name + "weight"], self.w[name + "bias"])

    def _layer(self, x: torch.Tensor, bias: torch.Tensor | None, p: str) -> torch.Tensor:
        w = self.w
        batch, width, hidden = x.shape
        qkv = self._linear(x, p + "qkv.")
        q, k, v = qkv.view(batch, width, 3, self.heads, hidden // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        a = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        a = self._linear(a.transpose(1, 2).reshape(batch, width, hidden), p + "attn_out.")
        x = _norm(a + x, w[p + "attn_norm.weight"], w[p + "attn_norm.bias"], self.eps)
        if self._linear_gelu is not None and p + "ffn_in." not in self.q:
            h = self._linear_gelu(x, w[p + "ffn_in.weight"], w[p + "ffn_in.bias"], "gelu", [], "none")
        else:
            h = F.gelu(self._linear(x, p + "ffn_in."))
        h = self._linear(h, p + "ffn_out.")
        return _norm(h + x, w[p + "ffn_norm.weight"], w[p + "ffn_norm.bias"], self.eps)


def _norm(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, eps: float) -> torch.Tensor:
    return F.layer_norm(x, x.shape[-1:], weight, bias, eps)


# -- building from a model ------------------------------------------------------------------------
def _extract(model: ModclsModel, tokenizer_json: str) -> tuple[dict, dict, np.ndarray, str]:
    """Engine metadata, float32 tensors, the pruned float16 embedding table and the pruned tokenizer."""
    enc = model.backbone.config
    kind = getattr(enc, "model_type", "")
    if kind != "bert" or getattr(enc, "position_embedding_type", "absolute") != "absolute" or enc.hidden_act != "gelu":
        raise EngineError(f"the fast path runs BERT encoders with absolute positions and GELU; this one is {kind!r}")
    state = {k: v.detach().float() for k, v in model.state_dict().items()}
    pre = "backbone.embeddings."
    pruned, kept = prune_unigram(tokenizer_json)
    table = state[pre + "word_embeddings.weight"].numpy()[kept].astype(np.float16)
    tensors = {
        "position": state[pre + "position_embeddings.weight"],
        "token_type": state[pre + "token_type_embeddings.weight"][0],
        "embed_norm.weight": state[pre + "LayerNorm.weight"],
        "embed_norm.bias": state[pre + "LayerNorm.bias"],
    }
    for i in range(enc.num_hidden_layers):
        src, dst = f"backbone.encoder.layer.{i}.", f"layer.{i}."
        att = src + "attention.self."
        for part in ("weight", "bias"):
            tensors[dst + "qkv." + part] = torch.cat([state[att + n + "." + part] for n in ("query", "key", "value")])
            for name, key in (("attn_out", "attention.output.dense"), ("attn_norm", "attention.output.LayerNorm"),
                              ("ffn_in", "intermediate.dense"), ("ffn_out", "output.dense"),
                              ("ffn_norm", "output.LayerNorm")):
                tensors[f"{dst}{name}.{part}"] = state[f"{src}{key}.{part}"]
    for head in ("topic_head", "sensitivity_head"):
        for part in ("weight", "bias"):
            tensors[f"{head}.{part}"] = state[f"{head}.{part}"]
    from tokenizers import Tokenizer

    from ..inference import _position_limit

    pad = Tokenizer.from_str(tokenizer_json).token_to_id("<pad>")
    pad_id = enc.pad_token_id if pad is None else pad
    pruned_pad = int(np.flatnonzero(kept == pad_id)[0]) if pad_id is not None and pad_id in kept else 0
    meta = {
        "format": ENGINE_FORMAT, "pad_id": pruned_pad, "positions": _position_limit(model),
        "heads": enc.num_attention_heads, "layers": enc.num_hidden_layers, "eps": enc.layer_norm_eps,
        "hidden": enc.hidden_size,
        "vocab_full": int(state[pre + "word_embeddings.weight"].shape[0]), "vocab_kept": len(kept),
    }
    return meta, tensors, table, pruned


# -- the on-disk cache ----------------------------------------------------------------------------
def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def _tokenizer_file(folder: Path, base_model: str) -> Path:
    own = folder / "tokenizer.json"
    return own if own.is_file() else Path(resolve_base(base_model)) / "tokenizer.json"


def model_fingerprint(folder: str | Path) -> str:
    """A digest of everything an engine of the model folder is made from.

    Its config and trained weights, the tokenizer it uses and the base encoder that supplies its frozen
    weights, plus :data:`ENGINE_FORMAT`.
    """
    folder = Path(folder)
    config_bytes = (folder / "config.json").read_bytes()
    base_model = json.loads(config_bytes).get("base_model")
    parts = [f"format={ENGINE_FORMAT}", hashlib.sha256(config_bytes).hexdigest(), _sha256(folder / "model.safetensors"),
             _sha256(_tokenizer_file(folder, base_model))]
    base = Path(resolve_base(base_model))
    parts.append(base_fingerprint(base) if base.is_dir() else str(base_model))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def engine_dir(folder: str | Path, home: Path | None = None) -> Path:
    """Where the engine of a model folder is (or will be) saved."""
    root = Path(home) if home is not None else modcls_home()
    return root / ENGINE_DIR / f"compact-{model_fingerprint(folder)[:32]}"


def _is_complete(target: Path) -> bool:
    return all((target / f).is_file() for f in _FILES)


def load_engine(
    folder: str | Path, *, home: Path | None = None, dtype: torch.dtype | None = None, int8: Sequence[str] = ()
) -> CompactEngine:
    """The engine of a model folder: loaded from the cache, or built (once, atomically) and saved first."""
    folder = Path(folder)
    if not all((folder / f).is_file() for f in ("config.json", "model.safetensors")):
        from ..modeling import ModclsModel

        ModclsModel.from_pretrained(folder)  # names what is wrong with the folder
        raise EngineError(f"{folder} has no config.json and model.safetensors to build an engine from")
    target = engine_dir(folder, home)
    if not _is_complete(target):
        build_engine(folder, target)
    return CompactEngine.load(target, dtype, int8)


def build_engine(folder: str | Path, target: Path) -> Path:
    """Build the engine of a model folder into ``target`` unless a complete one is there (inter-process safe)."""
    from transformers import AutoTokenizer

    from ..modeling import ModclsModel

    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        _clean_leftovers(target.parent, target.name)  # of a build that crashed
        if _is_complete(target):
            return target
        model = ModclsModel.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(_tokenizer_file(Path(folder), model.config.base_model).parent)
        engine = CompactEngine.from_model(model, tokenizer.backend_tokenizer.to_str(), torch.float32)
        tmp = _new_sibling(target, "")
        try:
            engine.save(tmp)
            if target.exists():
                shutil.rmtree(target)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target
