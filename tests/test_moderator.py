import pytest

from modcls import InputError, Policy
from modcls.modeling import ModelLoadError
from modcls.moderator import MAX_TEXT_CHARS, Moderator, default_model_dir

ARTICLE = """Le procès du meurtre s'ouvre au tribunal
Par journaliste

La police a mis en examen un homme pour le meurtre. Le procès est publié.

Réagir à cet article"""


def test_moderate_returns_offsets_routes_and_evidence(moderator):
    result = moderator.moderate(ARTICLE)
    assert [p.index for p in result.paragraphs] == [0, 1, 2, 3]
    for p in result.paragraphs:
        assert ARTICLE[p.start : p.end].split() == p.text.split()
        assert set(p.topic_scores) == set(moderator.topics) and len(p.topic_scores) == 18
        assert set(p.sensitivity) == set(moderator.categories) and len(p.sensitivity) == 7
        assert abs(sum(p.topic_scores.values()) - 1) < 1e-4
        assert p.route in ("allow", "review", "urgent_review")
    assert all(result.paragraphs[i].route == result.route for i in result.evidence)
    assert result.model["precision"] == moderator.predictor.precision


def test_policy_decides_routes(tiny_model_dir):
    everything = Policy(thresholds={c: 0.0 for c in Policy().categories})
    result = Moderator.from_pretrained(tiny_model_dir, policy=everything).moderate(ARTICLE)
    assert result.route == "urgent_review"
    assert result.evidence == [0, 1, 2, 3]
    nothing = Policy(thresholds={c: 1.0 for c in Policy().categories}, topics={})
    assert Moderator.from_pretrained(tiny_model_dir, policy=nothing).moderate(ARTICLE).route == "allow"


def test_policy_file_is_applied_on_top_of_the_model_policy(tiny_model_dir, tmp_path):
    path = tmp_path / "policy.json"
    path.write_text('{"thresholds": {"drugs": 0.0}, "categories": {"drugs": {"route": "urgent_review", '
                    '"priority": "urgent"}}}')
    moderator = Moderator.from_pretrained(tiny_model_dir, policy=path)
    assert moderator.classify(["pluie"])[0].route == "urgent_review"
    assert moderator.info()["thresholds"]["drugs"] == 0.0


def test_classify_keeps_order(moderator):
    texts = ["le match de football", "la police", "pluie", "le match de football"]
    results = moderator.classify(texts, batch_size=2)
    assert [r.text for r in results] == texts
    assert results[0].sensitivity == results[3].sensitivity


@pytest.mark.parametrize("bad, message", [
    ("", "empty"), ("  \n\t", "empty"), ("x" * (MAX_TEXT_CHARS + 1), "limit"), (42, "string")])
def test_bad_input_is_refused_with_a_reason(moderator, bad, message):
    with pytest.raises(InputError, match=message):
        moderator.moderate(bad)
    with pytest.raises(InputError, match="paragraph 1"):
        moderator.classify(["ok", bad])


def test_classify_refuses_a_bare_string(moderator):
    with pytest.raises(InputError, match="list"):
        moderator.classify("un article")


def test_unknown_model_folder(tmp_path):
    with pytest.raises(ModelLoadError, match="not found"):
        Moderator.from_pretrained(tmp_path / "nope")


def test_default_model_message_when_none_is_installed(monkeypatch, tmp_path):
    import modcls.moderator as m

    monkeypatch.setattr(m, "DEFAULT_MODEL_DIR", tmp_path)
    with pytest.raises(ModelLoadError, match="no trained default model"):
        default_model_dir()
