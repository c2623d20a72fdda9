"""The README runs as written: the quick start and CI stay in step, and every command of its code blocks runs
on a small simulated sample that stands in for the real challenge files."""

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The real challenge files the README names, played by the simulated sample; the label files by its labels.
STAND_INS = {
    "challenge_xyze_1e6.h5": "xyze", "example_xyze_100.h5": "xyze", "train_xyze_1e4.h5": "xyze",
    "example_label_100.h5": "labels", "train_label_1e4.h5": "labels",
}
# Sizes cut down so that the suite stays quick; nothing else in the commands is changed.
SMALLER = [("--events 2000", "--events 20"), ("--random 200", "--random 3"), ("--start 100", "--start 10"),
           ("find-michels --demo", "find-michels --demo --demo-events 20")]


def _blocks(language: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def _quick_start_commands():
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:bash|sh)?\n(.*?)```", text, re.S).group(1)
    return [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_quick_start_is_two_commands_and_ci_runs_the_test_one():
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert "find-michels --demo" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert commands[1] in ci
    assert any("NUMBA_BOUNDSCHECK=1" in line and "find-michels" in " ".join(ci[k:k + 2])
               for k, line in enumerate(ci))


def test_the_plain_install_has_what_the_plotting_commands_import():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    required = {re.split(r"[<>=\[ ]", line.strip())[0] for line in cfg["options"]["install_requires"].split("\n")
                if line.strip()}
    assert {"matplotlib", "plotly", "h5py", "numba", "pyyaml", "tqdm"} <= required


def _commands() -> list[list[str]]:
    """Every command line of the README's bash blocks, as argv lists, ``&&`` chains split, comments dropped."""
    out = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            for old, new in SMALLER:
                line = line.replace(old, new)
            for part in line.split("&&"):
                argv = shlex.split(part, comments=True)
                if argv:
                    out.append(argv)
    return out


def _run(argv: list[str]) -> int | None:
    """Run one README command here; ``None`` for the install and test commands, which CI runs itself."""
    from michelreco.cli import find_michels_main, main, sweep_params_main

    if argv[0] == "pip" or argv[:3] == ["python", "-m", "pytest"]:
        return None
    entry = {"find-michels": find_michels_main, "michelreco": main, "sweep-params": sweep_params_main}.get(argv[0])
    assert entry is not None, f"the README runs a command this test does not know: {' '.join(argv)}"
    try:
        return entry(argv[1:])
    except SystemExit as exit_:
        return exit_.code


def test_every_readme_command_runs_as_written(sim_sample, tmp_path, monkeypatch, capsys):
    paths, _, _ = sim_sample
    for name, kind in STAND_INS.items():
        shutil.copy(paths.xyze if kind == "xyze" else paths.labels, tmp_path / name)
    grid = re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / "tuning.md").read_text(), re.S).group(1)
    (tmp_path / "grid.yaml").write_text(grid)                # "docs/tuning.md has a grid to start from"
    monkeypatch.chdir(tmp_path)
    ran = []
    for argv in _commands():
        status = _run(argv)
        if status is None:
            continue
        captured = capsys.readouterr()
        assert status == 0, f"{' '.join(argv)} -> exit {status}: {captured.err.strip()[-500:]}"
        ran.append(argv[:2])
    assert ["find-michels", "--demo"] in ran and ["michelreco", "sweep"] in ran and ["michelreco", "score"] in ran
    assert ["michelreco", "train"] in ran and ["michelreco", "diagnose"] in ran and (tmp_path / "model.json").exists()
    assert (tmp_path / "tuned" / "best.yaml").exists() and (tmp_path / "stability.png").exists()


def test_readme_python_example_runs(sim_sample, tmp_path):
    paths, _, _ = sim_sample
    shutil.copy(paths.xyze, tmp_path / "example_xyze_100.h5")
    for k, code in enumerate(_blocks("python")):
        script = tmp_path / f"readme_{k}.py"
        script.write_text(code)
        done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.parametrize("name", ["reliability.md", "data-format.md", "scoring.md", "performance.md"])
def test_docs_the_readme_points_to_exist(name):
    assert f"docs/{name}" in (ROOT / "README.md").read_text()
    assert (ROOT / "docs" / name).exists()


def test_every_test_named_in_reliability_md_exists():
    text = (ROOT / "docs" / "reliability.md").read_text()
    named, last = [], None
    for m in re.finditer(r"`(tests/[\w/]+\.py)(?:::(\w+))?`|`::(\w+)`", text):
        last = m.group(1) or last
        named.append((last, m.group(2) or m.group(3)))
    assert len(named) > 40
    for path, name in named:
        source = (ROOT / path).read_text()
        assert name is None or f"def {name}(" in source, f"docs/reliability.md names {path}::{name}"
