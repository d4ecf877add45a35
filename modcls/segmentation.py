"""Split raw scraped article text into paragraphs, keeping character offsets into the original.

Blank lines separate paragraphs. Inside a block, lines are kept apart when they are separate items
(a title above its body, a byline, "Réagir à cet article") and joined when they are one hard-wrapped
paragraph. Whitespace inside a paragraph is normalised to single spaces.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v\u00a0\u2000-\u200b\u3000]*\n")
_SPACES = re.compile(r"\s+")
_LINE_END = re.compile(r"[.!?…:;»\"”)\]]\s*$")
_SENTENCE_END = re.compile(r"(?<=[.!?…])[»\"”)]?\s+(?=(?:[«\"“(]\s*)?[A-ZÀ-ÖØ-Þ0-9])")
_DANGLING = re.compile(
    r"(?:[,(\-–—]|\b(?:de|du|des|d'|la|le|les|l'|à|au|aux|en|et|ou|dans|par|pour|sur|avec|sans|un|une|que|qui|"
    r"dont|son|sa|ses|leur|leurs|ce|cette|ces|devant|derrière|vers|chez|entre|contre|selon|après|avant|"
    r"depuis|sous|parmi|comme|est|a|ont|sont))\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Paragraph:
    """One paragraph: normalised ``text`` and the span ``original[start:end]`` it comes from."""

    index: int
    text: str
    start: int
    end: int


def normalize_whitespace(text: str) -> str:
    """Collapse runs of whitespace (newlines, tabs, non-breaking spaces) to single spaces and strip."""
    return _SPACES.sub(" ", text).strip()


def split_paragraphs(text: str) -> list[Paragraph]:
    """Split ``text`` into paragraphs. ``normalize_whitespace(text[p.start:p.end]) == p.text``."""
    paragraphs: list[Paragraph] = []
    for start, end in _blocks(text):
        for s, e in _items(text, start, end):
            paragraphs.append(Paragraph(len(paragraphs), normalize_whitespace(text[s:e]), s, e))
    return paragraphs


def _blocks(text: str) -> Iterator[tuple[int, int]]:
    pos = 0
    for match in _BLANK_LINE.finditer(text):
        yield from _stripped(text, pos, match.start())
        pos = match.end() - 1
    yield from _stripped(text, pos, len(text))


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end


def _items(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    """Group the lines of one block into items: wrapped prose lines join, separate items stay apart."""
    lines: list[tuple[int, int]] = []
    pos = start
    for line in text[start:end].split("\n"):
        lines.extend(_stripped(text, pos, pos + len(line)))
        pos += len(line) + 1
    if not lines:
        return
    cur_start, cur_end = lines[0]
    for s, e in lines[1:]:
        if _continues(text[cur_start:cur_end], text[s:e]):
            cur_end = e
        else:
            yield cur_start, cur_end
            cur_start, cur_end = s, e
    yield cur_start, cur_end


def _continues(previous: str, line: str) -> bool:
    """True when ``line`` carries on the sentence of ``previous`` (hard-wrapped prose).

    A title, a byline or a link line ends without a dangling word; a wrapped line ends mid-sentence:
    the next line starts in lower case, or the line ends on a comma, a hyphen or a function word.
    """
    last_line = previous.rsplit("\n", 1)[-1]
    if _LINE_END.search(last_line):
        return False
    first = line.lstrip()[:1]
    return first.islower() or bool(_DANGLING.search(last_line))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of ``text`` (end-punctuation followed by a capital, a digit or a quote)."""
    spans, pos = [], 0
    for match in _SENTENCE_END.finditer(text):
        spans.append((pos, match.start()))
        pos = match.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in spans if text[s:e].strip()]


def chunk_text(text: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Cut ``text`` into pieces of at most ``max_tokens`` tokens, on sentence boundaries.

    A single sentence over the limit is cut between words; a single word over it between characters.
    Nothing is dropped: joining the pieces with spaces gives the normalised text back.
    """
    if count_tokens(text) <= max_tokens:
        return [text]
    units = [text[s:e].strip() for s, e in split_sentences(text)]
    if len(units) == 1:
        units = text.split()
        if len(units) == 1:
            return _split_word(text, max_tokens, count_tokens)
    chunks: list[str] = []
    current = ""
    for unit in units:
        candidate = f"{current} {unit}".strip()
        if current and count_tokens(candidate) > max_tokens:
            chunks.append(current)
            candidate = unit
        if count_tokens(candidate) > max_tokens:
            chunks.extend(chunk_text(candidate, max_tokens, count_tokens))
            candidate = ""
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def _split_word(word: str, max_tokens: int, count_tokens: Callable[[str], int]) -> list[str]:
    pieces, current = [], ""
    for char in word:
        if current and count_tokens(current + char) > max_tokens:
            pieces.append(current)
            current = ""
        current += char
    return pieces + ([current] if current else [])
