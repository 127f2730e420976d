"""docker-compose.yml and the Dockerfile start the same system as `make run`.

The argv that `make run` launches is read from helpdesk/launch.py's source (nothing is started), so
a flag added to one side and not the other fails here. No database needed.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
LAUNCH = ROOT / "helpdesk" / "launch.py"

APP_SERVICES = ("web", "worker", "beat")
# Paths and addresses legitimately differ between a laptop and a container; their flags must not.
PLACEHOLDER_AFTER = ("--schedule", "--bind")
# `python manage.py X -v 0` in make run is only quieter than `python manage.py X`.
VERBOSITY_FLAGS = ("-v", "--verbosity")

# ${VAR:-default}, ${VAR-default} and ${VAR}: what compose substitutes when VAR is unset.
_INTERPOLATION = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}")


def _interpolate(value: str) -> str:
    return _INTERPOLATION.sub(lambda m: m.group(2) or "", str(value)).replace("$$", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def _argv(command) -> list[str]:
    parts = shlex.split(command) if isinstance(command, str) else list(command)
    return [_interpolate(part) for part in parts]


def _shell_steps(command) -> list[list[str]]:
    """`sh -c "a && b && exec c"` -> [a, b, c] as argv lists (exec dropped)."""
    argv = _argv(command)
    assert argv[:2] == ["sh", "-c"], f"web should run its steps through sh -c, got {argv[:2]}"
    steps = [shlex.split(step) for step in argv[2].split("&&")]
    return [step[1:] if step[:1] == ["exec"] else step for step in steps]


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: _interpolate(value) for key, value in env.items()}


def _normalise(argv: list[str]) -> list[str]:
    """The executable by name only, and placeholders for values that are paths or addresses."""
    out = [Path(argv[0]).name, *argv[1:]]
    for i, piece in enumerate(out[:-1]):
        if piece in PLACEHOLDER_AFTER:
            out[i + 1] = f"<{piece.lstrip('-')}>"
    return out


# --- helpdesk/launch.py, read as source -----------------------------------------------------------


def _launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text())


def _function(name: str) -> ast.FunctionDef:
    found = [n for n in ast.walk(_launch_tree()) if isinstance(n, ast.FunctionDef) and n.name == name]
    assert found, f"helpdesk/launch.py has no function {name}()"
    return found[0]


def _piece(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "os.environ.get" and len(node.args) == 2:
        return _piece(node.args[1])  # the default is what `make run` uses
    if isinstance(node, ast.Call) and ast.unparse(node.func) == "str" and isinstance(node.args[0], ast.BinOp):
        return _piece(node.args[0].right)  # str(BIN / "celery") -> "celery": a path, by its last part
    if isinstance(node, ast.JoinedStr):
        return ast.unparse(node)  # f"{host}:{port}": only ever a --bind value, replaced by a placeholder
    raise AssertionError(f"helpdesk/launch.py: don't know how to read the argv piece {ast.unparse(node)}")


def _launched() -> dict[str, list[str]]:
    argv = {}
    for node in _function("_children").body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.List):
            (target,) = node.targets
            argv[target.id] = [_piece(element) for element in node.value.elts]
    assert set(argv) >= set(APP_SERVICES), f"_children() builds {sorted(argv)}"
    return argv


def _without_verbosity(args: list[str]) -> list[str]:
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in VERBOSITY_FLAGS:
            skip = True
        else:
            out.append(arg)
    return out


def _launch_manage_steps() -> list[list[str]]:
    calls = [
        n
        for n in ast.walk(_function("main"))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "_manage"
    ]
    return [_without_verbosity([_piece(arg) for arg in call.args]) for call in calls]


# --- the Dockerfile ---------------------------------------------------------------------------------


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), with continuation lines joined and comments dropped."""
    lines = [line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            instruction, _, rest = line.strip().partition(" ")
            out.append((instruction.upper(), rest.strip()))
    return out


def _runs() -> list[str]:
    return [args for instruction, args in _instructions() if instruction == "RUN"]


# --- compose ----------------------------------------------------------------------------------------


def test_it_defines_the_five_services(services):
    assert set(services) >= {"postgres", "redis", "web", "worker", "beat"}
    assert services["postgres"]["image"].split(":")[:2] == ["postgres", "16"]
    assert services["redis"]["image"].split(":")[:2] == ["redis", "7"]


def test_it_builds_web_worker_and_beat_from_the_dockerfile(services):
    for name in APP_SERVICES:
        build = services[name].get("build")
        context = build if isinstance(build, str) else (build or {}).get("context")
        assert context in {".", "./"}, f"{name} is not built from ./Dockerfile"


def test_it_gives_postgres_redis_and_web_a_healthcheck(services):
    assert "pg_isready" in " ".join(_argv(services["postgres"]["healthcheck"]["test"]))
    assert "redis-cli ping" in " ".join(_argv(services["redis"]["healthcheck"]["test"]))
    web_check = " ".join(_argv(services["web"]["healthcheck"]["test"]))
    assert "/healthz" in web_check
    assert "curl" not in web_check and "wget" not in web_check, "python:3.11-slim has neither curl nor wget"


def test_it_starts_the_app_only_once_postgres_and_redis_are_healthy(services):
    for name in APP_SERVICES:
        depends_on = services[name]["depends_on"]
        assert isinstance(depends_on, dict), f"{name}: depends_on needs conditions, not a bare list"
        for dependency in ("postgres", "redis"):
            assert depends_on[dependency]["condition"] == "service_healthy", f"{name} -> {dependency}"


def test_it_shares_one_environment_between_web_worker_and_beat(services):
    web, worker, beat = (_environment(services[name]) for name in APP_SERVICES)
    assert web == worker == beat
    for required in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS"):
        assert web.get(required), f"{required} is not set for the app services"


def test_it_points_the_app_at_the_compose_postgres_and_redis(services):
    env = _environment(services["web"])
    database, broker = urlsplit(env["DATABASE_URL"]), urlsplit(env["REDIS_URL"])
    postgres = _environment(services["postgres"])
    assert database.scheme in {"postgres", "postgresql"} and database.hostname == "postgres"
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path.lstrip("/") == postgres["POSTGRES_DB"]
    assert broker.scheme == "redis" and broker.hostname == "redis"


def test_it_starts_with_a_secret_key_the_settings_accept(services):
    # helpdesk/settings.py refuses a SECRET_KEY under 32 characters when DEBUG is off.
    env = _environment(services["web"])
    assert len(env["SECRET_KEY"]) >= 32
    assert env.get("DEBUG", "false").lower() in {"0", "false", "no", "off", ""}


def test_it_allows_the_host_the_web_healthcheck_calls(services):
    check = " ".join(_argv(services["web"]["healthcheck"]["test"]))
    called = urlsplit(re.search(r"https?://[^'\"\s]+", check).group(0))
    allowed = [host.strip() for host in _environment(services["web"])["ALLOWED_HOSTS"].split(",")]
    assert called.hostname in allowed, "Django would answer the healthcheck with 400"
    assert called.port == 8000


def test_it_runs_the_worker_exactly_as_make_run_does(services):
    assert _normalise(_argv(services["worker"]["command"])) == _normalise(_launched()["worker"])


def test_it_runs_beat_exactly_as_make_run_does(services):
    assert _normalise(_argv(services["beat"]["command"])) == _normalise(_launched()["beat"])


def test_it_migrates_and_seeds_before_serving_like_make_run(services):
    command = " ".join(_argv(services["web"]["command"]))
    assert "gunicorn helpdesk.wsgi" in command
    assert "migrate" in command and "seed_demo" in command
    *setup, _ = _shell_steps(services["web"]["command"])
    for step in setup:
        assert step[:2] == ["python", "manage.py"], f"unexpected web setup step {step}"
    assert [_without_verbosity(step[2:]) for step in setup] == _launch_manage_steps()


def test_it_serves_with_the_same_gunicorn_flags_as_make_run(services):
    *_, serve = _shell_steps(services["web"]["command"])
    assert _normalise(serve) == _normalise(_launched()["web"])
    assert serve[serve.index("--bind") + 1].startswith("0.0.0.0:"), "inside a container, bind every interface"


# --- Dockerfile -------------------------------------------------------------------------------------


def test_it_installs_requirements_lock_in_the_image():
    copied = [args for instruction, args in _instructions() if instruction == "COPY"]
    assert any("requirements.lock" in args.split() for args in copied)
    assert any(re.search(r"\bpip install\b.*(-r|--requirement)\s+requirements\.lock\b", run) for run in _runs())


def test_it_builds_from_python_311_slim():
    (base,) = [args for instruction, args in _instructions() if instruction == "FROM"]
    assert base.split()[0] == "python:3.11-slim"


def test_it_collects_static_files_into_app_staticfiles():
    assert any("manage.py collectstatic" in run and "--noinput" in run for run in _runs())
    env = " ".join(args for instruction, args in _instructions() if instruction == "ENV")
    assert "STATIC_ROOT=/app/staticfiles" in env


def test_it_does_not_bake_a_secret_key_into_the_image():
    for instruction, args in _instructions():
        if instruction in {"ENV", "ARG"}:
            assert "SECRET_KEY" not in args, f"{instruction} {args}"


def test_it_runs_as_a_non_root_user():
    users = [args for instruction, args in _instructions() if instruction == "USER"]
    assert users, "the image would run as root"
    assert users[-1].split(":")[0] not in {"root", "0"}


def test_it_exposes_the_port_web_listens_on(services):
    exposed = [args for instruction, args in _instructions() if instruction == "EXPOSE"]
    assert "8000" in " ".join(exposed).split()
    assert any(_interpolate(port).endswith(":8000") for port in services["web"]["ports"])


def test_it_copies_every_local_app_and_never_the_local_data():
    copied = [args.split()[:-1] for instruction, args in _instructions() if instruction == "COPY"]
    sources = {source.rstrip("/") for sources in copied for source in sources if not source.startswith("--")}
    if "." in sources:
        # Copying the whole context is only safe with .data/ (database, secret key) and .venv/ excluded.
        ignored = (ROOT / ".dockerignore").read_text().split() if (ROOT / ".dockerignore").exists() else []
        assert {".data", ".venv"} <= {line.strip("/") for line in ignored}
        return
    local_apps = {app for app in settings.INSTALLED_APPS if "." not in app and (ROOT / app).is_dir()}
    assert local_apps >= {"helpdesk", "tickets"}
    missing = (local_apps | {"manage.py", "templates", "static"}) - sources
    assert not missing, f"the image lacks {sorted(missing)}"
    assert not sources & {".data", ".venv"}


# --- the SSRF guard's switch ------------------------------------------------------------------------


def test_it_leaves_private_network_webhooks_off_unless_set_explicitly(services):
    """`make run` turns WEBHOOK_ALLOW_PRIVATE_NETWORKS on for its local demo (and says so); the image and
    compose never do: unset in the shell, the app services get false and the default ports."""
    for name in APP_SERVICES:
        env = _environment(services[name])
        assert env["WEBHOOK_ALLOW_PRIVATE_NETWORKS"].lower() in {"0", "false", "no", "off"}, name
        assert env["WEBHOOK_ALLOWED_PORTS"] == "80,443", name
    for instruction, args in _instructions():
        if instruction in {"ENV", "ARG"}:
            assert "WEBHOOK_ALLOW_PRIVATE_NETWORKS" not in args, f"{instruction} {args}"


# --- HTTPS: on in the container, off for `make run` ---------------------------------------------------


def test_it_serves_the_container_over_https_and_keeps_the_healthcheck_on_plain_http(services):
    from django.urls import resolve

    env = _environment(services["web"])
    assert env["HTTPS"].lower() in {"1", "true", "yes", "on"}
    assert env["PROXY_SSL_HEADER"] == "X-Forwarded-Proto"
    assert env.get("TRUSTED_PROXY_COUNT", "0") == "0", "trusting X-Forwarded-For without a proxy lets clients forge it"
    image_env = " ".join(args for instruction, args in _instructions() if instruction == "ENV")
    assert "HTTPS=true" in image_env and "PROXY_SSL_HEADER=X-Forwarded-Proto" in image_env
    # The healthcheck calls http://127.0.0.1:8000/healthz from inside: the HTTPS redirect must spare it.
    check = " ".join(_argv(services["web"]["healthcheck"]["test"]))
    path = urlsplit(re.search(r"https?://[^'\"\s]+", check).group(0)).path.lstrip("/")
    assert any(re.search(pattern, path) for pattern in settings.SECURE_REDIRECT_EXEMPT)
    assert resolve("/" + path).url_name == "healthz"


def test_make_run_serves_plain_http():
    source = LAUNCH.read_text()
    assert "HTTPS" not in source and "PROXY_SSL_HEADER" not in source, "make run must keep the plain-http defaults"


def test_it_keeps_uploads_in_a_volume_the_image_user_owns(services):
    for name in ("web", "worker", "beat"):
        assert "media:/data/media" in services[name]["volumes"], name
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "MEDIA_ROOT=/data/media" in dockerfile and "chown helpdesk /data/media" in dockerfile
