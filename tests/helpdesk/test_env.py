"""Missing or malformed settings stop the process at start with one clear line naming the variable."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpdesk.env import EnvError, env_bool, env_int, env_int_list, env_url

ROOT = Path(__file__).resolve().parents[2]


def test_it_reads_typed_values(monkeypatch):
    monkeypatch.setenv("X_BOOL", "yes")
    monkeypatch.setenv("X_INT", "42")
    assert env_bool("X_BOOL") is True
    assert env_int("X_INT", 1) == 42
    assert env_int("X_MISSING", 7) == 7
    monkeypatch.setenv("X_PORTS", "80, 8443")
    assert env_int_list("X_PORTS", [443], minimum=1, maximum=65535) == [80, 8443]
    assert env_int_list("X_MISSING", [80, 443], minimum=1, maximum=65535) == [80, 443]


@pytest.mark.parametrize(
    ("name", "value", "reader", "message"),
    [
        ("X_BOOL", "maybe", lambda: env_bool("X_BOOL"), "X_BOOL='maybe' is not a boolean"),
        ("X_INT", "ten", lambda: env_int("X_INT", 1), "X_INT='ten' is not a whole number"),
        ("X_INT", "0", lambda: env_int("X_INT", 1, minimum=1), "X_INT=0 is below the minimum of 1"),
        ("X_URL", "mysql://h/db", lambda: env_url("X_URL", schemes={"postgres"}), "X_URL must be a URL"),
        ("X_PORTS", "80,http", lambda: env_int_list("X_PORTS", [80], minimum=1, maximum=99), "'http' is not a whole"),
        ("X_PORTS", "80,0", lambda: env_int_list("X_PORTS", [80], minimum=1, maximum=99), "X_PORTS: 0 is outside 1-99"),
        ("X_PORTS", " , ", lambda: env_int_list("X_PORTS", [80], minimum=1, maximum=99), "X_PORTS is empty"),
    ],
)
def test_it_names_the_variable_in_its_error(monkeypatch, name, value, reader, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(EnvError, match=message.replace("(", r"\(")):
        reader()


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"DATABASE_URL": "mysql://localhost/helpdesk"}, "DATABASE_URL must be a URL with one of the schemes"),
        ({"SWEEP_INTERVAL_S": "soon"}, "SWEEP_INTERVAL_S='soon' is not a whole number"),
        ({"DEBUG": "perhaps"}, "DEBUG='perhaps' is not a boolean"),
        ({"WEBHOOK_ALLOWED_PORTS": "443,https"}, "WEBHOOK_ALLOWED_PORTS: 'https' is not a whole number"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is shorter than 32 characters"),
    ],
)
def test_manage_py_fails_with_one_clear_line(overrides, expected):
    env = {**os.environ, **overrides}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines == [f"configuration error: {lines[0].removeprefix('configuration error: ')}"]
    assert expected in lines[0]
    assert "Traceback" not in result.stderr
