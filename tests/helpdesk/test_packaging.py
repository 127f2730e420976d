"""The pins in pyproject.toml and the lock that `make install` installs agree."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lock() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            pins[name.strip().lower().replace("_", "-")] = version.strip()
    return pins


def test_every_direct_dependency_is_pinned_to_the_locked_version():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    direct = project["dependencies"] + project["optional-dependencies"]["dev"]
    lock = _lock()
    for requirement in direct:
        name, version = requirement.split("==")
        name = name.split("[")[0].strip().lower().replace("_", "-")
        assert lock.get(name) == version, f"{name}: pyproject {version}, lock {lock.get(name)}"
