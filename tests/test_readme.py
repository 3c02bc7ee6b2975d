"""Every example in the README runs: Python blocks are executed, CLI lines are run."""

import re
import shlex
from pathlib import Path

import pytest

from aeot.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(lang):
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(), flags=re.S)


def test_python_quickstart_runs():
    (code,) = blocks("python")
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    assert tuple(scope["images"].shape) == (16, 1, 28, 28)
    assert scope["z"].shape[1] == 8
    assert scope["result"].fid >= 0 and 0 <= scope["result"].precision <= 1


def cli_lines():
    lines = []
    for block in blocks("bash"):
        for line in block.splitlines():
            line = line.split("#")[0].strip()
            if line.startswith(".venv/bin/aeot"):
                lines.append(shlex.split(line)[1:])
    return lines


def test_readme_has_the_cli_examples():
    cmds = [args[0] if args else "--help" for args in cli_lines()]
    assert "run" in cmds and "train-ae" in cmds and "datasets" in cmds


@pytest.mark.parametrize("args", [a for a in cli_lines() if a[:1] in (["--help"], ["datasets"])],
                         ids=lambda a: " ".join(a))
def test_cheap_cli_examples_run(args, capsys):
    try:
        code = main(args)
    except SystemExit as e:  # --help exits through argparse
        code = e.code
    assert code == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
@pytest.mark.parametrize("args", [a for a in cli_lines() if a[:1] == ["train-ae"]], ids=lambda a: " ".join(a))
def test_training_cli_examples_run(args, tmp_path, monkeypatch):
    """The `aeot run --out runs/demo` line is what `make demo` runs; the training lines run here."""
    pytest.importorskip("aeot.data")
    monkeypatch.chdir(tmp_path)
    assert main(args + ["--device", "cpu"]) == 0


@pytest.mark.parametrize("args", cli_lines(), ids=lambda a: " ".join(a))
def test_every_cli_example_parses(args):
    """Each README command line is accepted by the parser (options and choices exist)."""
    from aeot.cli import build_parser

    if args[:1] == ["--help"] or "--help" in args:
        return
    ns = build_parser().parse_args(args)
    assert callable(ns.func)
