"""Evaluation rows: labelled JSONL files in the data schema, or a held-out split of a training manifest."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..training.config import ConfigError, TrainingConfig, sha256_file, verify_manifest
from ..training.data import Example, apply_splits, limit_rows, load_examples, parse_example, read_jsonl

#: Sources whose text was written by the project; every other source is real text.
PROJECT_WRITTEN_PREFIX = "modcls"


def display_path(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies under it, else absolute (for reports)."""
    full = Path(path).resolve()
    try:
        return full.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return full.as_posix()


def provenance(source: str) -> str:
    """``project-written`` for text the project wrote, ``real`` for text from elsewhere."""
    return "project-written" if source.startswith(PROJECT_WRITTEN_PREFIX) else "real"


@dataclass
class EvalSet:
    """Rows to evaluate and where they come from (recorded in the report)."""

    rows: list[Example] = field(default_factory=list)
    origins: list[dict[str, Any]] = field(default_factory=list)
    licences: dict[str, list[str]] = field(default_factory=dict)

    def add(self, rows: list[Example], origin: dict[str, Any], licences: dict[str, set[str]]) -> None:
        seen = {e.id for e in self.rows}
        clash = [e.id for e in rows if e.id in seen]
        if clash:
            raise ConfigError(f"evaluation rows repeat ids already loaded: {', '.join(clash[:5])}")
        self.rows += rows
        self.origins.append(origin | {"rows": len(rows), "rows_by_source": dict(Counter(e.source for e in rows))})
        for source, names in licences.items():
            self.licences[source] = sorted(set(self.licences.get(source, [])) | names)

    def describe(self) -> dict[str, Any]:
        """The ``data`` section of a report."""
        by_source = Counter(e.source for e in self.rows)
        return {
            "rows": len(self.rows),
            "rows_by_source": dict(sorted(by_source.items())),
            "provenance": {s: provenance(s) for s in sorted(by_source)},
            "licences": dict(sorted(self.licences.items())),
            "origins": self.origins,
        }


def load_files(paths: list[str | Path], into: EvalSet | None = None) -> EvalSet:
    """Read labelled JSONL files (data schema; ``topic`` null and absent categories are unknown)."""
    out = into or EvalSet()
    for path in map(Path, paths):
        if not path.is_file():
            raise ConfigError(f"evaluation data file not found: {path}")
        raw = read_jsonl(path)
        rows = [parse_example(r, f"{path}:{i + 1}") for i, r in enumerate(raw)]
        out.add(rows, {"kind": "file", "path": display_path(path), "sha256": sha256_file(path)}, _licences(raw))
    return out


def load_split(config_path: str | Path, split: str, into: EvalSet | None = None) -> EvalSet:
    """The rows of ``split`` under a training config's manifest and committed split file (at most the
    config's ``limit_rows``, the same sample as training's).

    The manifest's checksums are verified first, so the rows are exactly those the split held out.
    """
    config = TrainingConfig.from_file(config_path)
    checksums = verify_manifest(config)
    splits_path = config.resolve(config.splits)
    if not splits_path.is_file():
        raise ConfigError(f"split file not found: {splits_path}")
    examples = load_examples(config)
    rows = limit_rows(apply_splits(examples, json.loads(splits_path.read_text(encoding="utf-8"))),
                      config.limit_rows, config.seed)
    if split not in rows:
        raise ConfigError(f"unknown split {split!r}; expected one of {', '.join(rows)}")
    licences: dict[str, set[str]] = {}
    for item in config.data:
        for r in read_jsonl(config.resolve(item.text_from or item.path)):
            licences.setdefault(_source_of(r, item.text_from is not None), set()).add(str(r.get("license", "?")))
    out = into or EvalSet()
    chosen = rows[split]
    out.add(chosen, {"kind": "split", "config": display_path(config_path), "split": split,
                     "splits_file": display_path(splits_path),
                     "splits_sha256": sha256_file(splits_path), "data_sha256": checksums,
                     "other_splits_rows": {s: len(r) for s, r in rows.items() if s != split}},
            {s: n for s, n in licences.items() if any(e.source == s for e in chosen)})
    return out


def _source_of(row: dict[str, Any], relabelled: bool) -> str:
    source = str(row.get("source", "unknown"))
    return f"{source}+modcls-labels" if relabelled else source


def _licences(rows: list[dict[str, Any]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for r in rows:
        out.setdefault(str(r.get("source", "unknown")), set()).add(str(r.get("license", "?")))
    return out
