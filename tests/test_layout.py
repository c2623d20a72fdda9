"""The package's layout keeps its promises (docs/architecture.md): modules import on their own, the
reconstruction reads no files, no module outside the simulator is over 500 lines."""

import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "michelreco"
MODULES = sorted(".".join(p.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
                 for p in PACKAGE.rglob("*.py"))


def test_every_module_imports_on_its_own():
    # one fresh interpreter per module would take a minute; a fresh one that imports each module after
    # clearing every michelreco module from sys.modules checks the same (no module leans on another's import)
    code = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "michelreco" or m.startswith("michelreco.")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except Exception as err:
        failed.append(f"{name}: {type(err).__name__}: {err}")
print("\\n".join(failed))
sys.exit(1 if failed else 0)
"""
    done = subprocess.run([sys.executable, "-c", code, *MODULES], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr[-2000:]


def test_reconstruction_reads_no_files():
    code = ("import sys, michelreco.reco.finder, michelreco.reco.model, michelreco.reco.energy; "
            "print([m for m in sys.modules if m.startswith(('michelreco.run', 'michelreco.analysis', "
            "'michelreco.sim', 'h5py'))])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr[-2000:]


@pytest.mark.parametrize("path", [p for p in PACKAGE.rglob("*.py") if "sim" not in p.relative_to(PACKAGE).parts],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_outside_the_simulator_are_short(path):
    assert len(path.read_text().splitlines()) <= 500
