"""Vocabulary pruning: keep the tokenizer pieces that French text can use, drop the rest.

The base encoder's SentencePiece (Unigram) vocabulary has 250k pieces for 100 languages; most are of
scripts French never uses, yet they cost memory twice: in the tokenizer (its trie) and in the
word-embedding table. :func:`prune_unigram` keeps the special tokens, every single-character piece and
every piece made only of :func:`is_latin_char` characters (the characters of French text, and of the
foreign names it quotes in Latin script: Erdoğan, Łódź, Dvořák, Nguyễn).

Tokenisation is unchanged for any text whose normalised characters are all such characters: its best
segmentation uses only pieces made of its own characters, which are all kept, and removing pieces never
adds a candidate segmentation. Other text (a name in Cyrillic, an emoji) is cut into the kept
single-character pieces instead of the dropped longer ones; a character the base vocabulary only knew
inside longer pieces becomes ``<unk>``.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np

#: SentencePiece's word-boundary marker.
WORD_MARKER = "\u2581"
_RANGES = (
    (0x20, 0x7E),  # ASCII
    (0xA0, 0x24F),  # Latin-1 Supplement, Latin Extended-A and -B
    (0x1E00, 0x1EFF),  # Latin Extended Additional
    (0x2010, 0x206F),  # general punctuation: ’ « » – — …
    (0x20AC, 0x20AC),  # €
    (0x2581, 0x2581),  # the word marker
)


def is_latin_char(ch: str) -> bool:
    """A character of Latin-script text: letters with their accents, digits, punctuation, the euro sign."""
    code = ord(ch)
    return any(low <= code <= high for low, high in _RANGES)


def _keep_piece(piece: str) -> bool:
    return len(piece.replace(WORD_MARKER, "")) <= 1 or all(is_latin_char(c) for c in piece)


def prune_unigram(tokenizer_json: str) -> tuple[str, np.ndarray]:
    """A pruned copy of a ``tokenizers`` JSON and the kept ids (``kept[new_id] == old_id``).

    Tokenizers of another model type (WordPiece, BPE, WordLevel), or with added tokens outside the
    vocabulary, are returned unchanged with every id kept.
    """
    data: dict[str, Any] = json.loads(tokenizer_json)
    model = data.get("model") or {}
    vocab = model.get("vocab")
    special = {t["id"] for t in data.get("added_tokens", [])}
    if model.get("type") != "Unigram" or any(i >= len(vocab) for i in special):
        return tokenizer_json, np.arange(_vocab_size(data), dtype=np.int64)
    if model.get("unk_id") is not None:
        special.add(model["unk_id"])
    kept = np.asarray([i for i, (piece, _) in enumerate(vocab) if i in special or _keep_piece(piece)],
                      dtype=np.int64)
    new_id = {int(old): new for new, old in enumerate(kept)}
    out = copy.deepcopy(data)
    out["model"]["vocab"] = [vocab[i] for i in kept]
    if model.get("unk_id") is not None:
        out["model"]["unk_id"] = new_id[model["unk_id"]]
    for token in out.get("added_tokens", []):
        token["id"] = new_id[token["id"]]
    _remap_post_processor(out.get("post_processor"), new_id)
    return json.dumps(out, ensure_ascii=False), kept


def _remap_post_processor(processor: dict[str, Any] | None, new_id: dict[int, int]) -> None:
    """Special-token ids held by post-processors (TemplateProcessing, RobertaProcessing, Sequence)."""
    if not processor:
        return
    for item in processor.get("processors", []):
        _remap_post_processor(item, new_id)
    for spec in (processor.get("special_tokens") or {}).values():
        spec["ids"] = [new_id[i] for i in spec["ids"]]
    for key in ("sep", "cls"):
        if isinstance(processor.get(key), list) and len(processor[key]) == 2:
            processor[key][1] = new_id[processor[key][1]]


def _vocab_size(data: dict[str, Any]) -> int:
    vocab = (data.get("model") or {}).get("vocab") or {}
    ids = list(vocab.values()) if isinstance(vocab, dict) else list(range(len(vocab)))
    ids += [t["id"] for t in data.get("added_tokens", [])]
    return max(ids) + 1 if ids else 0
