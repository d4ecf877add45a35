"""The fast path (modcls.engines): agreement with fp32 on the tiny model, its cache, vocabulary pruning."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import Unigram
from tokenizers.pre_tokenizers import Metaspace
from transformers import AutoTokenizer

from modcls.engines.compact import CompactEngine, engine_dir, load_engine
from modcls.engines.vocab import prune_unigram
from modcls.inference import PRECISIONS, Predictor
from modcls.modeling import ModclsModel

TEXTS = ["le procès du meurtre", "le match de football à la télévision", "pluie et soleil",
         "la police et le procès du meurtre à la école", "un film"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("MODCLS_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def _max_diff(a, b):
    return max(max(abs(x.topic - y.topic).max(), abs(x.sensitivity - y.sensitivity).max()) for x, y in zip(a, b))


def test_fast_is_a_precision():
    assert "fast" in PRECISIONS


@pytest.mark.parametrize("dtype, tolerance", [(torch.float32, 1e-3), (torch.bfloat16, 0.05)])
def test_fast_path_agrees_with_fp32(tiny_model_dir, home, dtype, tolerance):
    ref = Predictor.from_pretrained(tiny_model_dir, cache_size=0).predict(TEXTS)
    fast = Predictor.from_engine(load_engine(tiny_model_dir, dtype=dtype), cache_size=0)
    assert fast.precision == "fast" and fast.model is None
    assert _max_diff(ref, fast.predict(TEXTS, batch_size=2)) < tolerance


def test_fast_predictor_from_pretrained_uses_the_cache(tiny_model_dir, home, monkeypatch):
    first = Predictor.from_pretrained(tiny_model_dir, precision="fast", cache_size=0)
    target = engine_dir(tiny_model_dir)
    assert target.parent == home / "engines" and (target / "engine.json").is_file()
    assert not list(target.parent.glob(".*tmp*"))  # built in a temporary sibling, then renamed

    def no_rebuild(*args, **kwargs):
        raise AssertionError("the cached engine was rebuilt")

    monkeypatch.setattr("modcls.engines.compact.build_engine", no_rebuild)
    again = Predictor.from_pretrained(tiny_model_dir, precision="fast", cache_size=0)
    assert _max_diff(first.predict(TEXTS), again.predict(TEXTS)) == 0
    assert again.config.topics == first.config.topics and again.window == first.window


def test_a_crashed_build_is_cleaned_up(tiny_model_dir, home):
    target = engine_dir(tiny_model_dir)
    leftover = target.with_name(f".{target.name}.tmp-crashed")
    leftover.mkdir(parents=True)
    load_engine(tiny_model_dir)
    assert not leftover.exists() and (target / "engine.json").is_file()


def test_an_in_memory_model_gives_the_same_engine(tiny_model_dir, home):
    model = ModclsModel.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(model.config.base_model)
    in_memory = Predictor(model, tokenizer, precision="fast", cache_size=0)
    cached = Predictor.from_pretrained(tiny_model_dir, precision="fast", cache_size=0)
    assert in_memory.config is model.config
    assert _max_diff(in_memory.predict(TEXTS), cached.predict(TEXTS)) < 1e-6


def test_a_changed_model_gets_a_new_engine(tiny_model_dir, home, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    config = json.loads((tiny_model_dir / "config.json").read_text())
    (copy / "model.safetensors").write_bytes((tiny_model_dir / "model.safetensors").read_bytes())
    (copy / "config.json").write_text(json.dumps(config))
    before = engine_dir(copy)
    config["topic_temperature"] = 2.0
    (copy / "config.json").write_text(json.dumps(config))
    assert engine_dir(copy) != before
    assert load_engine(copy).config.topic_temperature == 2.0


def test_long_paragraphs_are_cut_into_windows_on_the_fast_path(tiny_model_dir, home):
    fast = Predictor.from_pretrained(tiny_model_dir, precision="fast", cache_size=0)
    ref = Predictor.from_pretrained(tiny_model_dir, cache_size=0)
    long = ". ".join(["le procès du meurtre est dans le tribunal avec la police"] * 30) + "."
    a, b = ref.predict([long])[0], fast.predict([long])[0]
    assert a.chunks == b.chunks > 1
    assert _max_diff([a], [b]) < 0.05


def test_batches_without_padding_match_padded_ones(tiny_model_dir, home):
    engine = load_engine(tiny_model_dir, dtype=torch.float32)
    rows = engine.encode(["passage: le match de football", "passage: la pluie"])
    alone = engine.logits([rows[0]])[0]
    padded = engine.logits(rows)[0][:1]
    assert torch.allclose(alone, padded, atol=1e-5)


def test_a_model_folder_that_is_not_one_is_refused(tmp_path, home):
    from modcls.modeling import ModelLoadError

    with pytest.raises(ModelLoadError):
        Predictor.from_pretrained(tmp_path, precision="fast")


# -- vocabulary pruning -----------------------------------------------------------------------------
def _unigram() -> Tokenizer:
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "▁", "▁le", "▁procès", "▁pro", "cès", "▁é", "té", "▁été",
              "▁Erdoğan", "▁Er", "do", "ğ", "an", "▁Мос", "ква", "М", "о", "с", "к", "в", "а", "Москва",
              "l", "e", "p", "r", "o", "c", "è", "s", "é", "t", "E", "d", "n", "▁l", "▁p"]
    vocab = [(p, 0.0 if i < 4 else -float(len(pieces) - i) / 10) for i, p in enumerate(pieces)]
    tok = Tokenizer(Unigram(vocab, unk_id=3))
    tok.pre_tokenizer = Metaspace()
    return tok


def test_pruning_keeps_latin_text_tokenised_exactly():
    full = _unigram()
    pruned_json, kept = prune_unigram(full.to_str())
    pruned = Tokenizer.from_str(pruned_json)
    dropped = {p for p in full.get_vocab() if p not in pruned.get_vocab()}
    assert dropped == {"▁Мос", "ква", "Москва"}  # multi-character pieces of another script only
    for text in ["le procès a été", "Erdoğan le procès", "été"]:
        assert [int(kept[i]) for i in pruned.encode(text).ids] == full.encode(text).ids
    cyrillic = pruned.encode("Москва").tokens
    assert cyrillic and "<unk>" not in cyrillic  # falls back to the kept single characters


def test_pruning_leaves_other_tokenizers_alone(tiny_base):
    source = (tiny_base / "tokenizer.json").read_text()
    out, kept = prune_unigram(source)
    assert out == source and np.array_equal(kept, np.arange(len(kept)))


# -- footprint --------------------------------------------------------------------------------------
def test_importing_inference_loads_neither_torch_nor_transformers():
    code = ("import sys, modcls.inference, modcls.cli.common; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_a_cached_engine_loads_without_transformers(tiny_model_dir, home):
    load_engine(tiny_model_dir)
    code = (f"import sys; from modcls.inference import Predictor; "
            f"p = Predictor.from_pretrained({str(tiny_model_dir)!r}, precision='fast'); p.predict(['le match']); "
            "print('transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_engine_round_trip(tiny_model_dir, home, tmp_path):
    engine = load_engine(tiny_model_dir, dtype=torch.float32)
    engine.save(tmp_path / "again")
    again = CompactEngine.load(tmp_path / "again", dtype=torch.float32)
    rows = engine.encode(["passage: le match"])
    assert torch.equal(engine.logits(rows)[0], again.logits(rows)[0])


@pytest.mark.parametrize("projections", [("qkv", "attn_out", "ffn_in", "ffn_out"), ("qkv", "ffn_in")])
def test_int8_engine_agrees_with_fp32(tiny_model_dir, home, projections):
    ref = Predictor.from_pretrained(tiny_model_dir, cache_size=0).predict(TEXTS)
    engine = load_engine(tiny_model_dir, dtype=torch.float32, int8=projections)
    assert engine.precision == "int8" and engine.int8 == projections
    assert _max_diff(ref, Predictor.from_engine(engine, cache_size=0).predict(TEXTS, batch_size=2)) < 0.02


def test_int8_weights_are_per_channel():
    from modcls.engines.compact import int8_linear, quantize_weight

    weight = torch.randn(8, 16) * torch.logspace(-2, 1, 8)[:, None]  # channels of very different ranges
    weight_t, scale = quantize_weight(weight)
    assert weight_t.dtype == torch.int8 and weight_t.shape == (16, 8) and scale.shape == (8,)
    x = torch.randn(5, 16)
    exact = x @ weight.T
    approx = int8_linear(x, weight_t, scale, torch.zeros(8))
    assert ((approx - exact).abs() / exact.abs().amax(0)).max() < 0.05  # each channel keeps its own precision
