"""The embedded PostgreSQL and Redis: real servers, data kept across restarts, clear faults."""

import subprocess
import sys

import pytest

from tests.integration.conftest import ROOT

pytestmark = pytest.mark.slow

WRITE = """
import os, psycopg, redis
url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
with psycopg.connect(url, autocommit=True) as conn:
    conn.execute("CREATE TABLE kept (v text)")
    conn.execute("INSERT INTO kept VALUES ('survives')")
    print(conn.execute("SHOW server_version").fetchone()[0])
redis.Redis.from_url(os.environ["REDIS_URL"]).set("kept", "also survives")
"""

READ = """
import os, psycopg, redis
url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
with psycopg.connect(url) as conn:
    print(conn.execute("SELECT v FROM kept").fetchone()[0])
print(redis.Redis.from_url(os.environ["REDIS_URL"]).get("kept").decode())
"""


def _exec(env, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpdesk.embedded", "exec", "--", sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_it_keeps_data_across_restarts(embedded_env, data_dir):
    first = _exec(embedded_env, WRITE)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().startswith("16.")
    second = _exec(embedded_env, READ)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["survives", "also", "survives"]
    assert (data_dir / "secret_key").stat().st_mode & 0o777 == 0o600


def test_it_explains_a_data_dir_from_another_version(embedded_env, data_dir):
    data_dir.mkdir(parents=True)
    (data_dir / "LAYOUT_VERSION").write_text("0")
    result = _exec(embedded_env, "print('should not run')")
    assert result.returncode == 1
    assert "written by an incompatible version" in result.stderr
    assert "Move it aside" in result.stderr
    assert "Traceback" not in result.stderr
    assert "should not run" not in result.stdout
