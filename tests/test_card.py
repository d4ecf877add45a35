"""The model card: generated from run.json and a report, HF sections, and every figure equal to the report's."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.test_evaluation import evaluated, tiny_eval_model  # noqa: F401 - session fixtures shared with this file

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["Model details", "Intended use", "How to use", "Out-of-scope uses", "Training data", "Evaluation data",
            "Metrics", "Limitations and known failure modes", "Ethical considerations", "How to retrain"]


@pytest.fixture(scope="session")
def card(evaluated, tiny_eval_model, tmp_path_factory) -> Path:  # noqa: F811 - fixtures imported above
    from modcls.cli import main

    out = tmp_path_factory.mktemp("card") / "docs" / "model_card.md"
    assert main(["card", "--model", str(tiny_eval_model), "--report", str(evaluated), "--out", str(out)]) == 0
    return out


def tables(markdown: str) -> list[list[dict[str, str]]]:
    """Every Markdown table as a list of {header: cell} rows."""
    found, block = [], []
    for line in [*markdown.splitlines(), ""]:
        if line.startswith("|"):
            block.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif block:
            header, rows = block[0], block[2:]
            found.append([dict(zip(header, row, strict=True)) for row in rows])
            block = []
    return found


def table_with(markdown: str, *columns: str) -> list[dict[str, str]]:
    matches = [t for t in tables(markdown) if t and all(c in t[0] for c in columns)]
    assert matches, f"no table with columns {columns}"
    return matches[0]


def shown(value: float | None, interval: list[float] | None = None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" + (f" [{interval[0]:.3f}, {interval[1]:.3f}]" if interval else "")


def check_card_against_report(text: str, report: dict, run: dict) -> int:
    """Assert every figure of the card's tables equals the report's (or run.json's); return figures checked."""
    checked = 0
    summary = table_with(text, "group", "system", "topic accuracy")
    assert len(summary) == len(report["groups"]) * len(report["systems"])
    columns = {"topic accuracy": ("topic", "accuracy"), "topic macro-F1": ("topic", "macro_f1"),
               "must-review recall": ("routing", "must_review_recall"), "share routed": ("routing", "routed_share"),
               "urgent precision": ("routing", "urgent_precision"), "urgent recall": ("routing", "urgent_recall")}
    for row in summary:
        group = report["groups"][row["group"].strip("`")]
        r = group["results"][row["system"]]
        assert row["rows"] == str(group["rows"]) and row["rows with topic"] == str(r["topic"].get("support", 0))
        for column, (section, key) in columns.items():
            f = r[section]
            assert row[column] == shown(f.get(key), (f.get("intervals") or {}).get(key)), (row["group"], column)
        for head in ("topic", "sensitivity"):
            c = r["calibration"][head]
            assert row[f"ECE {head}"] == shown(c.get("ece"), (c.get("intervals") or {}).get("ece"))
        checked += 2 + len(columns) + 2
    system, *others = list(report["systems"])
    for row in table_with(text, "group", "category", "positives / known"):
        group = report["groups"][row["group"].strip("`")]
        f = group["results"][system]["sensitivity"][row["category"]]
        iv = f.get("intervals") or {}
        assert row["positives / known"] == f"{f['positives']} / {f['support']}"
        assert row["threshold"] == shown(f["threshold"])
        for column, key in (("precision", "precision"), ("recall", "recall"), ("F1", "f1"),
                            ("average precision", "average_precision")):
            assert row[column] == shown(f[key], iv.get(key)), (row["group"], row["category"], column)
        for other in others:
            g = group["results"][other]["sensitivity"][row["category"]]
            assert row[f"{other} F1"] == shown(g["f1"], (g.get("intervals") or {}).get("f1"))
        checked += 6 + len(others)
    for row in table_with(text, "topic"):
        for column, cell in row.items():
            if column == "topic" or not cell:
                continue
            c = report["groups"][column.strip("`")]["results"][system]["topic"]["per_class"][row["topic"]]
            assert cell == f"{c['f1']:.3f} ({c['support']})"
            checked += 1
    training = table_with(text, "source", "provenance", "train")
    for row in training:
        for split in ("train", "validation", "test"):
            if row["source"] == "**total**":
                assert row[split] == str(run["rows"][split])
            else:
                assert row[split] == str(run["rows_by_source"][split].get(row["source"].strip("`"), 0))
            checked += 1
    return checked


def test_card_sections_follow_the_model_card_template(card):
    from modcls.evaluation.card import card_sections

    text = card.read_text(encoding="utf-8")
    assert text.startswith("---\nlanguage:\n- fr\n") and "base_model: intfloat/multilingual-e5-small" in text
    assert card_sections(text) == SECTIONS
    assert "4-bit" in text and "not the published ones" in text
    assert "Automatic removal" in text and "Over-flagging" in text and "Under-flagging" in text


def test_card_figures_equal_the_report(card, evaluated, tiny_eval_model):  # noqa: F811
    text = card.read_text(encoding="utf-8")
    report = json.loads((evaluated / "report.json").read_text(encoding="utf-8"))
    run = json.loads((tiny_eval_model / "run.json").read_text(encoding="utf-8"))
    assert check_card_against_report(text, report, run) > 100


def test_card_links_resolve(card):
    text = card.read_text(encoding="utf-8")
    links = re.findall(r"\]\(([^)]+\.png)\)", text)
    assert links and all((card.parent / link).is_file() for link in links)


def test_card_needs_run_record_and_report(tiny_model_dir, tiny_eval_model, evaluated, tmp_path, capsys):  # noqa: F811
    from modcls.cli import main

    assert main(["card", "--model", str(tiny_model_dir), "--report", str(evaluated), "--out",
                 str(tmp_path / "c.md")]) == 1
    assert "run.json" in capsys.readouterr().err
    assert main(["card", "--model", str(tiny_eval_model), "--report", str(tmp_path), "--out",
                 str(tmp_path / "c.md")]) == 1
    assert "report.json" in capsys.readouterr().err


def test_shipped_card_equals_its_report():
    """The card at the repository root: its figures are those of the report it names."""
    card = ROOT / "model_card.md"
    if not card.is_file():
        pytest.skip("no model_card.md generated yet")
    text = card.read_text(encoding="utf-8")
    link = re.search(r"evaluation report `([^`]+/report\.json)`", text)
    assert link, "the card names its report"
    report = json.loads((ROOT / link.group(1)).read_text(encoding="utf-8"))
    run_path = ROOT / "modcls" / "default_model" / "run.json"
    if not run_path.is_file():
        pytest.skip("the default model is not installed")
    run = json.loads(run_path.read_text(encoding="utf-8"))
    assert check_card_against_report(text, report, run) > 100
