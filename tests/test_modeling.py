import json

import pytest
import torch
from safetensors import safe_open
from transformers import AutoConfig, AutoModel

from modcls.inference import Predictor
from modcls.modeling import ModclsConfig, ModclsModel, ModelLoadError


def test_saved_folder_holds_trained_weights_only(tiny_model_dir):
    with safe_open(str(tiny_model_dir / "model.safetensors"), framework="pt") as f:
        keys = set(f.keys())
    assert not any("word_embeddings" in k for k in keys)
    assert {"topic_head.weight", "sensitivity_head.weight"} <= keys
    config = json.loads((tiny_model_dir / "config.json").read_text())
    assert config["model_type"] == "modcls"
    assert config["base_fingerprint"] and config["topics"][0] == "arts_culture"
    assert not list(tiny_model_dir.glob("*.bin")) and not list(tiny_model_dir.glob("*.pt"))


def test_save_then_load_gives_identical_outputs(tiny_model_dir, tmp_path):
    model = ModclsModel.from_pretrained(tiny_model_dir)
    model.config.thresholds["drugs"] = 0.25
    model.save_pretrained(tmp_path)
    again = ModclsModel.from_pretrained(tmp_path)
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 9, 2, 1, 1]])
    mask = (ids != 1).long()
    a, b = model(ids, mask), again(ids, mask)
    assert torch.equal(a.topic_logits, b.topic_logits)
    assert torch.equal(a.sensitivity_logits, b.sensitivity_logits)
    assert again.config.thresholds["drugs"] == 0.25
    assert torch.equal(again.backbone.embeddings.word_embeddings.weight,
                       model.backbone.embeddings.word_embeddings.weight)


def test_auto_classes_know_the_model(tiny_model_dir):
    assert isinstance(AutoConfig.from_pretrained(tiny_model_dir), ModclsConfig)
    assert isinstance(AutoModel.from_pretrained(tiny_model_dir), ModclsModel)


def test_frozen_parameters_do_not_train(tiny_model_dir):
    model = ModclsModel.from_pretrained(tiny_model_dir)
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["backbone.embeddings.word_embeddings.weight"]


def test_a_changed_base_is_refused(tiny_model_dir, tmp_path):
    config = json.loads((tiny_model_dir / "config.json").read_text())
    config["base_fingerprint"] = "0" * 64
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").write_bytes((tiny_model_dir / "model.safetensors").read_bytes())
    with pytest.raises(ModelLoadError, match="fingerprint"):
        ModclsModel.from_pretrained(tmp_path)


def test_not_a_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="not a modcls model folder"):
        ModclsModel.from_pretrained(tmp_path)


def test_long_paragraphs_are_cut_into_windows_not_truncated(tiny_model_dir):
    predictor = Predictor.from_pretrained(tiny_model_dir, cache_size=0)
    short = "le procès du meurtre"
    long = ". ".join(["le procès du meurtre est dans le tribunal avec la police"] * 30) + "."
    assert predictor.count_tokens(long) > predictor.window
    scores = predictor.predict([short, long])
    assert scores[0].chunks == 1 and scores[1].chunks > 1
    assert abs(float(scores[1].topic.sum()) - 1.0) < 1e-5


def test_batching_and_order_do_not_change_scores(tiny_model_dir):
    predictor = Predictor.from_pretrained(tiny_model_dir, cache_size=0)
    texts = ["le match de football", "la police et le procès du meurtre à la école", "pluie", "un film"]
    one = [predictor.predict([t])[0] for t in texts]
    many = predictor.predict(texts, batch_size=3)
    for a, b in zip(one, many):
        assert torch.allclose(torch.from_numpy(a.sensitivity), torch.from_numpy(b.sensitivity), atol=1e-5)
        assert torch.allclose(torch.from_numpy(a.topic), torch.from_numpy(b.topic), atol=1e-5)


def test_cache_answers_repeated_paragraphs_and_stays_bounded(tiny_model_dir):
    predictor = Predictor.from_pretrained(tiny_model_dir, cache_size=2)
    first = predictor.predict(["Lire  aussi"])[0]
    assert predictor.predict(["Lire aussi "])[0] is first
    predictor.predict(["un", "deux", "trois"])
    assert len(predictor._cache) == 2


@pytest.mark.parametrize("precision", ["int8", "bf16"])
def test_fast_paths_agree_with_fp32(tiny_model_dir, precision):
    texts = ["le procès du meurtre", "le match de football à la télévision", "pluie et soleil"]
    ref = Predictor.from_pretrained(tiny_model_dir, cache_size=0).predict(texts)
    fast = Predictor.from_pretrained(tiny_model_dir, cache_size=0, precision=precision).predict(texts)
    for a, b in zip(ref, fast):
        assert abs(a.sensitivity - b.sensitivity).max() < 0.05
        assert abs(a.topic - b.topic).max() < 0.05


def test_split_forward_equals_the_full_forward(tiny_base):
    model = ModclsModel.from_base(str(tiny_base), freeze_layers=1).eval()
    assert model.frozen_depth() == 1
    assert not model.backbone.encoder.layer[0].attention.self.query.weight.requires_grad
    assert model.backbone.encoder.layer[1].attention.self.query.weight.requires_grad
    ids = torch.tensor([[0, 5, 6, 7, 2], [0, 9, 2, 1, 1]])
    mask = (ids != 1).long()
    full = model(ids, mask)
    split = model.forward_from_features(model.frozen_features(ids, mask), mask)
    assert torch.allclose(full.topic_logits, split.topic_logits, atol=1e-5)
    assert torch.allclose(full.sensitivity_logits, split.sensitivity_logits, atol=1e-5)


def test_window_survives_save_and_load(tmp_path):
    config = ModclsConfig(encoder={"model_type": "bert", "vocab_size": 10, "hidden_size": 8,
                                   "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8})
    assert config.window_tokens == 512
    config.save_pretrained(tmp_path)
    assert ModclsConfig.from_pretrained(tmp_path).window_tokens == 512
