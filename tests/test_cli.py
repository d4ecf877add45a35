import json
import subprocess
import sys

import pytest

from modcls.cli import main
from tests.conftest import write_jsonl

ARTICLE = "Le procès du meurtre\n\nLa police a mis en examen un homme.\n\nRéagir à cet article\n"


@pytest.fixture
def run(tiny_model_dir, capsys):
    def _run(*args):
        code = main([args[0], *args[1:], "--model", str(tiny_model_dir)])
        out = capsys.readouterr()
        return code, out.out, out.err

    return _run


def test_moderate_json(run, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    code, out, _ = run("moderate", str(path), "--json")
    data = json.loads(out)
    assert code == 0
    assert set(data) >= {"route", "priority", "evidence", "paragraphs"}
    p = data["paragraphs"][0]
    assert set(p) >= {"index", "start", "end", "text", "topic", "topic_scores", "sensitivity", "flags", "route",
                      "priority", "reasons"}
    assert len(p["topic_scores"]) == 18 and len(p["sensitivity"]) == 7


def test_moderate_table(run, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    code, out, _ = run("moderate", str(path))
    assert code == 0 and out.startswith("article route:") and "Réagir à cet article" in out


@pytest.mark.parametrize("content, message", [
    (b"", "empty"), (b"  \n \n", "empty"), (b"caf\xe9 au lait", "invalid UTF-8 at byte 3")])
def test_moderate_bad_input(run, tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    code, out, err = run("moderate", str(path))
    assert code == 1 and message in err and out == ""


def test_moderate_missing_file_and_model(run, tmp_path, capsys):
    code, _, err = run("moderate", str(tmp_path / "nope.txt"))
    assert code == 1 and "nope.txt" in err
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    assert main(["moderate", str(path), "--model", str(tmp_path / "nomodel")]) == 1
    assert "model folder not found" in capsys.readouterr().err


def test_bad_policy_file(run, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    policy = tmp_path / "p.json"
    policy.write_text('{"categories": {"gossip": {"route": "review"}}}')
    code, _, err = run("moderate", str(path), "--policy", str(policy))
    assert code == 1 and "gossip" in err


def test_classify_jsonl_keeps_fields(run, tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "la police", "lang": "fr"},
                                              {"id": 7, "text": "le match"}])
    out = tmp_path / "out.jsonl"
    code, _, err = run("classify", "--input", str(src), "--output", str(out), "--batch-size", "1")
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 0 and "2 rows written" in err
    assert [r["id"] for r in rows] == ["a", 7] and rows[0]["lang"] == "fr"
    for r in rows:
        assert set(r) >= {"topic", "topic_scores", "sensitivity", "flags", "route"}


def test_classify_plain_text(run, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("la police\n\nle match\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert run("classify", "--input", str(src), "--output", str(out))[0] == 0
    assert [json.loads(line)["text"] for line in out.read_text().splitlines()] == ["la police", "le match"]


@pytest.mark.parametrize("bad, message", [
    ('{"id": 3, "text": "x"', "not valid JSON"),
    ('{"id": 3}', 'the row has no "text" field'),
    ('{"id": 3, "text": "   "}', "text is empty"),
    ('["text"]', "a JSONL row must be a JSON object"),
    (b'{"text": "caf\xe9"}', "invalid UTF-8"),
])
def test_classify_stops_at_a_bad_row_and_keeps_what_came_before(run, tmp_path, bad, message):
    src = tmp_path / "in.jsonl"
    good = [json.dumps({"id": i, "text": f"la police {i}"}).encode() for i in range(5)]
    src.write_bytes(b"\n".join(good + [bad if isinstance(bad, bytes) else bad.encode()] + good) + b"\n")
    out = tmp_path / "out.jsonl"
    code, _, err = run("classify", "--input", str(src), "--output", str(out))
    assert code == 1 and f"in.jsonl:6: {message}" in err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1, 2, 3, 4] and all("route" in r for r in rows)

    code, _, err = run("classify", "--input", str(src), "--output", str(out), "--skip-invalid")
    assert code == 0 and "skipped" in err and "in.jsonl:6" in err
    assert len(out.read_text().splitlines()) == 10


def test_classify_streams_in_bounded_blocks(moderator, tmp_path):
    """Rows are written block by block: the reader is never drained ahead of the writer."""
    import io

    from modcls.batch_io import classify_stream

    consumed = []

    def rows():
        for i in range(50):
            consumed.append(i)
            yield i + 1, {"text": f"la police {i}"}

    class Out(io.StringIO):
        def write(self, s):
            assert len(consumed) - self.getvalue().count("\n") <= 10
            return super().write(s)

    out = Out()
    stats = classify_stream(moderator, rows(), out, block_size=10)
    assert stats.rows_written == 50 and out.getvalue().count("\n") == 50


def test_python_dash_m_modcls_help():
    result = subprocess.run([sys.executable, "-m", "modcls", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "moderate" in result.stdout and "classify" in result.stdout


def test_user_errors_name_the_problem_and_what_to_do(run, tmp_path, capsys):
    code, _, err = run("moderate", str(tmp_path / "missing.txt"))
    assert code == 1 and err == f"modcls: error: {tmp_path / 'missing.txt'}: no such file; give a UTF-8 text file, " \
                                "or - to read stdin\n"
    code, _, err = run("moderate", str(tmp_path))
    assert code == 1 and "is a folder" in err and "Errno" not in err
    code, _, err = run("classify", "--input", str(tmp_path / "in.jsonl"), "--output", "-")
    assert code == 1 and err.startswith("modcls: error: input file not found")
    with pytest.raises(SystemExit) as exit_:
        main(["moderate", "a.txt", "--precision", "fp64"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "modcls: error: argument --precision" in err and "modcls moderate --help" in err


def test_no_tokenizer_warning_for_long_paragraphs(tiny_model_dir, tmp_path):
    """Paragraphs over the window are cut by modcls itself: the tokenizer's length warning is not shown."""
    path = tmp_path / "long.txt"
    path.write_text(" ".join(["la police a mis en examen un homme."] * 40), encoding="utf-8")
    result = subprocess.run([sys.executable, "-m", "modcls", "moderate", str(path), "--json", "--model",
                             str(tiny_model_dir)], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout)["paragraphs"][0]["chunks"] > 1
    assert "Token indices sequence length" not in result.stderr
