"""The README is tested: its Python example runs and prints what the README shows, its command lines are
accepted by the CLI with options the CLI's help names, and its curl example is answered.

The expected values live in the README only (the comments of its Python example): when a new model ships,
update the README and this test checks it.
"""

from __future__ import annotations

import ast
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from modcls.cli import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, flags=re.M | re.S)


def python_example() -> str:
    """The first Python block after '## Python API'."""
    section = README.split("## Python API", 1)[1]
    return re.search(r"^```python\n(.*?)^```", section, flags=re.M | re.S).group(1)


def shown(code: str) -> list[tuple[str, str]]:
    """(expression, comment) of each expression statement of ``code`` that carries a comment."""
    lines = code.splitlines()
    out = []
    for node in ast.parse(code).body:
        line = lines[node.end_lineno - 1]
        if isinstance(node, ast.Expr) and "  # " in line:
            out.append((ast.get_source_segment(code, node), line.split("  # ", 1)[1].strip()))
    return out


def expected_article() -> tuple[str, str, list[int]]:
    """What the README says the example article gives: (route, priority, evidence)."""
    for expression, comment in shown(python_example()):
        if expression.startswith("article.route"):
            return ast.literal_eval(comment)
    raise AssertionError("the README's Python example shows no article.route, article.priority, article.evidence")


def commands() -> list[list[str]]:
    """Every ``modcls ...`` (or ``python training/train.py ...``) command line of the README's bash blocks, as
    arguments: continuation lines joined, comments, redirections, env assignments and [optional] brackets removed."""
    found = []
    for block in blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
                words = words[1:]
            if words[:2] == ["python", "training/train.py"]:
                words = ["modcls", "train", *words[2:]]
            if not words or words[0] != "modcls":
                continue
            args, skip = [], False
            for word in words[1:]:
                if skip:
                    skip = False
                elif word in {"<", ">"}:
                    skip = True
                elif word.startswith("[") or word.endswith("]"):
                    if word.strip("[]"):
                        args.append(word.strip("[]"))
                else:
                    args.append(word)
            found.append(args)
    return found


def help_text(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """``modcls <command> [<action>] --help`` for the command of ``args``."""
    words = args[:2] if args[0] == "review" else args[:1]
    with pytest.raises(SystemExit):
        main([*words, "--help"])
    return capsys.readouterr().out


# -- the Python example ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default_model_available() -> None:
    from modcls.moderator import DEFAULT_MODEL_DIR

    if not (DEFAULT_MODEL_DIR / "config.json").is_file():
        pytest.skip("the default model is not installed")


@pytest.mark.slow
def test_python_example_prints_what_the_readme_shows(default_model_available, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # the example opens examples/article.txt
    code = python_example()
    comments = dict(shown(code))
    namespace: dict[str, Any] = {}
    checked = 0
    for node in ast.parse(code).body:
        source = ast.get_source_segment(code, node)
        if not isinstance(node, ast.Expr):
            exec(compile(ast.Module([node], []), "README.md", "exec"), namespace)
            continue
        value = eval(compile(ast.Expression(node.value), "README.md", "eval"), namespace)
        comment = comments.get(source)
        if comment is None:
            continue
        try:
            expected = ast.literal_eval(comment)
        except (ValueError, SyntaxError):  # a list of keys: "topic, topic_scores (18), ..."
            for key, count in re.findall(r"(\w+)(?: \((\d+)\))?", comment):
                assert key in value, f"README: {source} has no {key}"
                if count:
                    assert len(value[key]) == int(count), f"README: {source}[{key!r}] has {len(value[key])} items"
            checked += 1
            continue
        assert value == expected, f"README: {source} gives {value!r}, the README shows {expected!r}"
        checked += 1
    assert checked == 3
    printed = capsys.readouterr().out.splitlines()
    assert len(printed) == len(namespace["article"].paragraphs)

    # The same article through the command line (README: modcls moderate - --json < article.txt).
    assert main(["moderate", "examples/article.txt", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["route"], data["priority"], data["evidence"]) == expected_article()


# -- the command lines and the CLI's help --------------------------------------------------------------


def test_every_readme_command_is_accepted_with_options_its_help_names(capsys):
    found = commands()
    assert len(found) >= 20
    parser = build_parser()
    for args in found:
        try:
            parser.parse_args(args)
        except SystemExit:
            pytest.fail(f"README: `modcls {' '.join(args)}` is refused: {capsys.readouterr().err}")
        text = help_text(args, capsys)
        for option in (a.split("=")[0] for a in args if a.startswith("--")):
            assert re.search(rf"{re.escape(option)}\b", text), f"README: {option} not in `modcls {args[0]} --help`"
    assert {args[0] for args in found} == set(COMMANDS), "every command has a README example"


def test_readme_documents_every_train_option_and_its_defaults(capsys):
    from modcls.cli.train import TOLERANCE as CLI_TOLERANCE
    from modcls.training.compare import TOLERANCE
    from modcls.training.config import MIN_CALIBRATION_POSITIVES

    text = help_text(["train"], capsys)
    for option in set(re.findall(r"--[a-z][a-z-]+", text)) - {"--help"}:
        assert re.search(rf"{re.escape(option)}\b", README), f"README does not document modcls train {option}"
    assert CLI_TOLERANCE == TOLERANCE and f"(default {TOLERANCE}, absolute)" in README
    assert f"at least **{MIN_CALIBRATION_POSITIVES} validation positives**" in README


def test_readme_option_lists_match_the_cli(capsys):
    from modcls.inference import PRECISIONS

    listed = re.search(r"`--precision ([a-z0-9|]+)`", README).group(1)
    assert sorted(listed.split("|")) == sorted(PRECISIONS)
    for command in ("moderate", "classify", "evaluate"):
        text = help_text([command], capsys)
        assert all(o in text for o in ("--model", "--policy", "--precision"))
    serve = help_text(["serve"], capsys)
    pairs = re.findall(r"`(--[a-z-]+)`\s+`(MODCLS_[A-Z_]+)`", README)
    assert len(pairs) >= 10
    from modcls.server.settings import ENV_VARS

    for option, variable in pairs:
        assert option in serve, f"README: {option} not in `modcls serve --help`"
        assert variable in ENV_VARS.values(), f"README: {variable} is read by no setting"


# -- the curl example ------------------------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "secret"])
def test_curl_example_is_answered_with_and_without_a_token(moderator, token, monkeypatch):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from modcls.server.app import create_app
    from modcls.server.settings import ServerSettings

    curl = next(b for b in blocks("bash") if b.startswith("curl"))
    words = shlex.split(curl.replace("\\\n", " ").replace("$MODCLS_API_TOKEN", token or ""))
    url = next(w for w in words if w.startswith("localhost:"))
    headers = dict(w.split(": ", 1) for w, flag in zip(words[1:], words) if flag == "-H")
    body = words[words.index("-d") + 1]
    with TestClient(create_app(moderator, ServerSettings(api_token=token), None)) as client:
        answer = client.post(url.split("localhost:8000", 1)[1], content=body.encode(), headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"][0]["id"] == "p1"
        if token:
            headers.pop("Authorization")
            assert client.post(url.split("localhost:8000", 1)[1], content=body.encode(),
                               headers=headers).status_code == 401
