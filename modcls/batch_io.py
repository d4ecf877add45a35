"""Streaming classification of JSONL or plain-text files: bounded memory, nothing lost on bad input.

Rows are read lazily, scored in blocks and written (and flushed) as soon as they are scored. A bad row
stops the run after every row before it has been written complete, unless ``skip_invalid`` is set,
in which case it is reported and skipped.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .errors import InputError, ModclsError
from .moderator import Moderator, check_text

ADDED_FIELDS = ("topic", "topic_scores", "sensitivity", "flags", "route", "priority", "reasons")


class RowError(ModclsError, ValueError):
    """A row of the input that cannot be classified; ``line`` is 1-based."""

    def __init__(self, source: str, line: int, message: str) -> None:
        super().__init__(f"{source}:{line}: {message}")
        self.source, self.line, self.message = source, line, message


@dataclass
class StreamStats:
    rows_written: int = 0
    rows_skipped: int = 0


def detect_format(path: str, first_line: bytes | None) -> str:
    """``jsonl`` or ``text``: by extension, else by whether the first line is a JSON object."""
    suffix = Path(path).suffix.lower()
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    if suffix in {".txt", ".text"}:
        return "text"
    return "jsonl" if first_line is not None and first_line.lstrip().startswith(b"{") else "text"


def read_rows(lines: Iterable[bytes], fmt: str, source: str) -> Iterator[tuple[int, dict[str, Any] | RowError]]:
    """Yield ``(line_number, row)`` or ``(line_number, RowError)``; blank lines are skipped."""
    for number, raw in enumerate(lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            yield number, RowError(source, number, f"invalid UTF-8 at byte {err.start}")
            continue
        if not line.strip():
            continue
        if fmt == "text":
            row: Any = {"text": line.rstrip("\r\n")}
        else:
            try:
                row = json.loads(line)
            except json.JSONDecodeError as err:
                yield number, RowError(source, number, f"not valid JSON ({err.msg}, column {err.colno})")
                continue
            if not isinstance(row, dict):
                yield number, RowError(source, number, "a JSONL row must be a JSON object")
                continue
            if "text" not in row:
                yield number, RowError(source, number, 'the row has no "text" field')
                continue
        if row.get("context") is not None and not isinstance(row["context"], str):
            yield number, RowError(source, number, '"context" must be a string (the article headline)')
            continue
        try:
            check_text(row["text"], "text")
        except InputError as err:
            yield number, RowError(source, number, str(err))
            continue
        yield number, row


def classify_stream(
    moderator: Moderator,
    rows: Iterable[tuple[int, dict[str, Any] | RowError]],
    out: IO[str],
    *,
    batch_size: int = 32,
    block_size: int = 512,
    skip_invalid: bool = False,
    on_skip: Callable[[RowError], None] | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> StreamStats:
    """Classify ``rows`` into ``out`` as JSONL; raise the first :class:`RowError` unless skipping."""
    stats = StreamStats()
    block: list[dict[str, Any]] = []

    def flush() -> None:
        if not block:
            return
        contexts = [r.get("context") for r in block]
        results = moderator.classify([r["text"] for r in block], batch_size=batch_size,
                                     context=contexts if any(contexts) else None, evidence=False)
        for row, result in zip(block, results):
            full = result.to_dict()
            out.write(json.dumps(row | {k: full[k] for k in ADDED_FIELDS}, ensure_ascii=False) + "\n")
        out.flush()
        stats.rows_written += len(block)
        if on_progress:
            on_progress(len(block))
        block.clear()

    for _, row in rows:
        if isinstance(row, RowError):
            flush()
            if not skip_invalid:
                raise row
            stats.rows_skipped += 1
            if on_skip:
                on_skip(row)
            continue
        block.append(row)
        if len(block) >= block_size:
            flush()
    flush()
    return stats


def open_lines(path: str) -> tuple[Iterator[bytes], bytes | None]:
    """Binary line iterator over a file or stdin (``-``), and its first line for format sniffing."""
    handle = sys.stdin.buffer if path == "-" else open(path, "rb")  # noqa: SIM115 - closed at exit
    first = handle.readline()

    def lines() -> Iterator[bytes]:
        if first:
            yield first
        yield from handle

    return lines(), first or None
