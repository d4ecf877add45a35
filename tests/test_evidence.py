"""Evidence sentences: choice rule, offsets into paragraph and article, context passed through, one batch."""

from __future__ import annotations

from modcls.evidence import attach_evidence, choose, normalized_positions, sentence_spans
from modcls.labels import TOPICS
from modcls.policy import Policy
from modcls.results import Evidence, ParagraphResult
from modcls.segmentation import normalize_whitespace, split_paragraphs


def test_choose_keeps_the_best_then_those_over_the_threshold():
    assert choose([0.1, 0.9, 0.3], 0.5) == [1]
    assert choose([0.6, 0.9, 0.3, 0.7, 0.8], 0.5) == [1, 4, 3]  # at most three, strongest first
    assert choose([0.2, 0.1], 0.5) == [0]  # the best even when no sentence reaches the threshold alone
    assert choose([0.7, 0.75, 0.2], None) == [1, 0]


def test_sentence_spans_and_normalized_positions():
    text = "Le procès s'ouvre. « Il a tué », dit-il. Fin."
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["Le procès s'ouvre.", "« Il a tué », dit-il.", "Fin."]
    article = "Titre\n\n  Une  phrase.\n Deux\tphrases.  \n"
    part = split_paragraphs(article)[1]
    positions = normalized_positions(article, part.start, part.end)
    assert len(positions) == len(part.text)
    assert "".join(article[i] if not article[i].isspace() else " " for i in positions) == part.text


def test_moderate_gives_evidence_with_article_offsets(tiny_model_dir):
    from modcls.moderator import Moderator

    everything = Policy.from_dict({"topics": {t: {"route": "review", "priority": "low"} for t in TOPICS}})
    moderator = Moderator.from_pretrained(tiny_model_dir, policy=everything)
    article = "Le procès du meurtre\n\nLa police a mis en  examen un homme. Il est condamné.\nLe match de football.\n"
    result = moderator.moderate(article)
    assert all(p.evidence for p in result.paragraphs)  # every paragraph is flagged or routed by its topic
    for p in result.paragraphs:
        for ev in p.evidence:
            assert p.text[ev.start:ev.end] == ev.text
            assert normalize_whitespace(article[ev.article_start:ev.article_end]) == ev.text
            assert ev.label in p.flags or ev.label == p.topic
    data = result.to_dict()
    assert type(result).from_dict(data) == result
    assert isinstance(data["paragraphs"][1]["evidence"][0], dict)
    plain = moderator.classify(["La police a mis en examen un homme. Il est condamné."])[0]
    assert plain.evidence and all(ev.article_start is None for ev in plain.evidence)
    assert moderator.classify(["La police a mis en examen un homme."], evidence=False)[0].evidence == []


class _Stub:
    """A predictor that records its calls and scores 'haine' sentences high on hate_speech."""

    class config:  # noqa: N801 - mimics ModclsConfig
        topics = list(TOPICS)
        categories = ["child_sexual_abuse", "sexual_violence", "violent_crime", "terrorism", "drugs", "self_harm",
                      "hate_speech"]

    def __init__(self) -> None:
        self.calls = []

    def predict(self, texts, batch_size=32, contexts=None):
        import numpy as np

        from modcls.inference import Scores

        self.calls.append((list(texts), list(contexts) if contexts is not None else None))
        out = []
        for t in texts:
            sens = np.zeros(7, dtype=np.float32)
            sens[6] = 0.9 if "haine" in t else 0.05
            out.append(Scores(np.full(len(TOPICS), 1 / len(TOPICS), dtype=np.float32), sens))
        return out


def _result(text: str, flags: list[str]) -> ParagraphResult:
    return ParagraphResult(index=0, text=text, topic="politics", topic_scores={t: 0.05 for t in TOPICS},
                           sensitivity={c: 0.9 if c in flags else 0.0 for c in _Stub.config.categories},
                           flags=flags, route="review" if flags else "allow", priority="normal" if flags else "none")


def test_one_batch_for_all_paragraphs_with_their_contexts():
    stub = _Stub()
    results = [_result("Le maire parle. Un tract de haine circule. Fin de séance.", ["hate_speech"]),
               _result("Rien à signaler ici. Vraiment rien.", []),
               _result("Un seul message de haine.", ["hate_speech"])]
    attach_evidence(stub, results, thresholds={"hate_speech": 0.5}, contexts=["Titre A", None, "Titre C"])
    assert len(stub.calls) == 1  # one batch; the one-sentence paragraph is not scored again
    texts, contexts = stub.calls[0]
    assert texts == ["Le maire parle.", "Un tract de haine circule.", "Fin de séance."]
    assert contexts == ["Titre A"] * 3
    assert results[0].evidence == [Evidence("hate_speech", 16, 42, "Un tract de haine circule.", 0.9)]
    assert results[1].evidence == []
    assert [(e.text, e.score) for e in results[2].evidence] == [("Un seul message de haine.", 0.9)]
