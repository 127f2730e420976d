"""The layering of DESIGN.md as import-linter contracts (pyproject.toml, [tool.importlinter]): entry points
write through helpdesk/workflows.py, pure modules import no Django, no app imports an app above it, the base
imports no app. In the suite, so CI refuses a change that breaks one (`make lint` runs them too)."""

import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import ROOT


def test_the_import_contracts_are_kept():
    result = subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "BROKEN" not in result.stdout and "Contracts: 8 kept, 0 broken." in result.stdout
