"""Browser-test fixtures: a real daphne serving the site, and headless Chromium.

daphne runs as a subprocess on a free port against the pytest-django test
database (PostgreSQL: the subprocess must see the rows the test commits, so
tests use ``transactional_db``) and a Redis channel layer of its own.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"
# A Redis database of their own, so other tests' channel-layer groups never reach these browsers.
BROWSER_REDIS_DB = int(os.environ.get("BROWSER_TEST_REDIS_DB", "11"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 20.0) -> None:
    """Wait until something listens on 127.0.0.1:port; fail with the process output if it died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{read_log(process)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port} after {timeout} s:\n{read_log(process)}")


def read_log(process: subprocess.Popen) -> str:
    log = getattr(process, "log_path", None)
    return Path(log).read_text(errors="replace")[-4000:] if log and Path(log).exists() else ""


def start_process(args: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen:
    """Start a subprocess with its output in a log file (a full pipe would block it)."""
    log = open(log_path, "wb")  # noqa: SIM115  (kept open for the life of the process)
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    process.log_path = str(log_path)
    process.log_file = log
    return process


def stop_process(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
    process.log_file.close()


def database_url(settings_dict: dict) -> str:
    """The URL of the test database, for the subprocesses."""
    user = quote(settings_dict.get("USER") or "")
    password = settings_dict.get("PASSWORD") or ""
    auth = f"{user}:{quote(password)}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or "5432"
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


def browser_redis_url(base_url: str) -> str:
    """The test Redis (TEST_REDIS_URL) with the browser tests' own database number."""
    parts = urlsplit(base_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{BROWSER_REDIS_DB}", "", ""))


@pytest.fixture(scope="session")
def server_env(django_db_setup, django_db_blocker, redis_url, tmp_path_factory) -> dict[str, str]:
    """Environment shared by daphne and the worker: the test database and a private Redis db."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("browser tests share the database with subprocesses: they need PostgreSQL (DATABASE_URL)")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("ASTERISK_", "DJANGO_", "REDIS_", "DEMO_", "PYTEST_"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "telephony_site.settings",
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": browser_redis_url(redis_url),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
        }
    )
    env["BROWSER_TEST_LOGS"] = str(tmp_path_factory.mktemp("browser-logs"))
    return env


@pytest.fixture(scope="session")
def flush_redis(server_env) -> None:
    """Start from an empty channel-layer database."""
    import redis

    client = redis.Redis.from_url(server_env["REDIS_URL"])
    try:
        client.flushdb()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not reachable at {server_env['REDIS_URL']}")
    finally:
        client.close()


def start_daphne(server_env: dict[str, str], *extra_args: str, log_name: str = "daphne.log") -> tuple:
    """Start daphne on a free port; returns (process, base URL) once it listens."""
    port = free_port()
    daphne = str(Path(sys.executable).with_name("daphne"))
    # The page is on 127.0.0.1; a messaging node test opens the socket on localhost (another origin).
    env = {**server_env, "DJANGO_CSRF_TRUSTED_ORIGINS": f"http://127.0.0.1:{port},http://localhost:{port}"}
    process = start_process(
        [daphne, "-b", "127.0.0.1", "-p", str(port), *extra_args, "tests.browser.asgi:application"],
        env,
        Path(server_env["BROWSER_TEST_LOGS"]) / log_name,
    )
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop_process(process)
        raise
    return process, f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def live_site(server_env, flush_redis) -> Iterator[str]:
    """A real daphne serving the site (and its static files) on a free port; yields the base URL."""
    process, base_url = start_daphne(server_env)
    try:
        yield base_url
    finally:
        stop_process(process)


@pytest.fixture(scope="module")
def chromium_browser() -> Iterator[object]:
    """Debian's headless Chromium driven by Playwright (one per test module).

    Playwright's sync API keeps an event loop running in this thread, so
    Django's async-safety check is lifted while it lives; module scope ends
    that loop before any other module's tests run.
    """
    if not Path(CHROMIUM).exists() or not shutil.which(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=30000)
            try:
                yield browser
            finally:
                browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def browser_context(chromium_browser) -> Iterator[object]:
    """A fresh browser profile (cookies, localStorage) per test, at a laptop screen size."""
    context = chromium_browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    context.set_default_timeout(10000)
    try:
        yield context
    finally:
        context.close()


@pytest.fixture
def page(browser_context) -> object:
    return browser_context.new_page()


def log_in(page, base_url: str, username: str, next_path: str = "/") -> None:
    """Log in through the real login form."""
    page.goto(f"{base_url}/login/?next={quote(next_path)}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-pass-123")
    page.click("main form button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)


@pytest.fixture
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def operator(transactional_db, make_operator):
    """alice, an operator on line 305, committed so the daphne subprocess sees her."""
    return make_operator("alice", "305")


@pytest.fixture
def panel(page, live_site, operator):
    """alice's home page with the panel connected to a scripted socket (tests/browser/fakesocket.py)."""
    from tests.browser.fakesocket import FakeSocket

    socket = FakeSocket(page)
    log_in(page, live_site, "alice")
    socket.wait_connected()
    return socket
