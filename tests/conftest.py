"""Shared fixtures: a tiny base encoder and a tiny modcls model built on the fly (no network, no hub)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

WORDS = [
    "le",
    "la",
    "les",
    "un",
    "une",
    "des",
    "de",
    "du",
    "et",
    "à",
    "en",
    "au",
    "aux",
    "pour",
    "par",
    "sur",
    "dans",
    "avec",
    "est",
    "a",
    "été",
    "ont",
    "sont",
    "il",
    "elle",
    "ils",
    "homme",
    "femme",
    "enfant",
    "enfants",
    "police",
    "procès",
    "tribunal",
    "condamné",
    "mis",
    "examen",
    "images",
    "pédocriminalité",
    "viol",
    "meurtre",
    "attentat",
    "drogue",
    "cocaïne",
    "suicide",
    "haine",
    "match",
    "but",
    "équipe",
    "football",
    "élection",
    "gouvernement",
    "budget",
    "entreprise",
    "école",
    "pluie",
    "soleil",
    "météo",
    "réagir",
    "article",
    "abonnez-vous",
    "newsletter",
    "lire",
    "aussi",
    "publié",
    "par",
    "journaliste",
    "ministre",
    "santé",
    "hôpital",
    "guerre",
    "armée",
    "climat",
    "religion",
    "église",
    "science",
    "musique",
    "film",
]


def build_tiny_base(folder: Path) -> Path:
    """A 2-layer BERT with a word-level tokenizer, saved as a Hugging Face folder."""
    import torch
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>"]
    vocab = {tok: i for i, tok in enumerate(specials + sorted(set(WORDS)) + ["passage", ":"])}
    tok = Tokenizer(WordLevel(vocab, unk_token="<unk>"))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=64,
    )
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=1,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(folder)
    fast.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_base(tmp_path_factory.mktemp("tiny_base"))


@pytest.fixture(scope="session")
def tiny_model_dir(tiny_base: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny modcls model, saved with its embedding table left out (frozen)."""
    import torch

    from modcls.modeling import ModclsModel
    from modcls.policy import Policy

    torch.manual_seed(0)
    model = ModclsModel.from_base(str(tiny_base), model_version="tiny-test", window_tokens=64)
    model.config.policy = Policy().to_dict()
    # Low thresholds on some categories so that tests see every route.
    model.config.thresholds = {c: 0.5 for c in model.config.categories}
    folder = tmp_path_factory.mktemp("tiny_model")
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def moderator(tiny_model_dir: Path):
    from modcls.moderator import Moderator

    return Moderator.from_pretrained(tiny_model_dir)


def write_jsonl(path: Path, rows: list) -> Path:
    with open(path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(row if isinstance(row, str) else json.dumps(row, ensure_ascii=False))
            f.write("\n")
    return path
