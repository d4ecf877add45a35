from modcls.segmentation import chunk_text, normalize_whitespace, split_paragraphs, split_sentences

SCRAPED = """Un réseau pédocriminel démantelé dans l'Ouest
Par Julie Martin
Publié le 12/03/2025 à 07h45\u00a0

Les enquêteurs ont interpellé six hommes mardi à l'aube, dans trois départements
de l'Ouest, après des mois de surveillance. Ils sont soupçonnés d'avoir partagé
des images.\t  Deux sont en détention.


Lire aussi : Budget 2026, le gouvernement sous pression
Réagir à cet article
   \r
Abonnez-vous à notre newsletter"""


def test_offsets_map_back_to_the_original():
    paragraphs = split_paragraphs(SCRAPED)
    assert len(paragraphs) == 7
    for i, p in enumerate(paragraphs):
        assert p.index == i
        assert normalize_whitespace(SCRAPED[p.start : p.end]) == p.text
        assert SCRAPED[p.start : p.end] == SCRAPED[p.start : p.end].strip()


def test_title_byline_and_furniture_stay_apart_while_wrapped_prose_joins():
    texts = [p.text for p in split_paragraphs(SCRAPED)]
    assert texts[0] == "Un réseau pédocriminel démantelé dans l'Ouest"
    assert texts[1] == "Par Julie Martin"
    assert texts[2] == "Publié le 12/03/2025 à 07h45"
    assert texts[3].startswith("Les enquêteurs") and texts[3].endswith("Deux sont en détention.")
    assert "\n" not in texts[3] and "  " not in texts[3]
    assert texts[4:] == ["Lire aussi : Budget 2026, le gouvernement sous pression", "Réagir à cet article",
                         "Abonnez-vous à notre newsletter"]


def test_empty_and_blank_text_gives_no_paragraph():
    assert split_paragraphs("") == []
    assert split_paragraphs(" \n\n\t \n") == []


def test_sentences_split_on_end_punctuation_before_a_capital():
    text = "Le procès s'ouvre. « Il a avoué », dit-il. 3 témoins sont cités ! Fin"
    spans = split_sentences(text)
    assert [text[s:e].strip() for s, e in spans] == [
        "Le procès s'ouvre.", "« Il a avoué », dit-il.", "3 témoins sont cités !", "Fin"]


def test_chunks_respect_the_limit_and_lose_nothing():
    words = lambda s: len(s.split())  # noqa: E731
    text = "Une phrase courte. " * 5 + "Une très longue phrase " + "mot " * 30 + "finale."
    chunks = chunk_text(text.strip(), 8, words)
    assert all(words(c) <= 8 for c in chunks)
    assert " ".join(chunks).split() == text.split()
    assert chunk_text("Court.", 8, words) == ["Court."]
    assert "".join(chunk_text("x" * 20, 5, len)) == "x" * 20


def test_a_long_headline_is_not_joined_to_its_byline_but_wrapped_names_are():
    text = ("Pédocriminalité : un réseau de partage d'images démantelé dans trois départements\n"
            "Par Hélène Corbière\n"
            "Le maire de la commune, joint par téléphone, a dit sa stupeur devant\n"
            "Paris-Normandie et les autres journaux.")
    assert [p.text for p in split_paragraphs(text)] == [
        "Pédocriminalité : un réseau de partage d'images démantelé dans trois départements",
        "Par Hélène Corbière",
        "Le maire de la commune, joint par téléphone, a dit sa stupeur devant Paris-Normandie et les autres "
        "journaux."]
