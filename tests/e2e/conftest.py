"""Browser fixtures: the app in production mode, an RQ worker and Chromium.

Set E2E_BASE_URL to run the flows against an instance that is already
running (QA); otherwise the suite starts its own app and worker on a free
loopback port against this run's database. A failing test leaves a
screenshot and a Playwright trace under test-results/<test name>/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "test-results"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STARTUP_SECONDS = 420


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the app exited with {process.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(
        f"the app did not answer {url}/ping within {STARTUP_SECONDS} s; see {log}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process group this suite started, by its leader's PID."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="session")
def app_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """Base URL of the app under test."""
    external = os.environ.get("E2E_BASE_URL")
    if external:
        yield external.rstrip("/")
        return
    request.getfixturevalue("redis_client")  # also migrates this run's database
    port = _free_port()
    # Every flow signs up from 127.0.0.1, far more often than a person would.
    env = {
        **os.environ,
        "APP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "SIGN_UP_ATTEMPTS": "10000",
        "SIGN_IN_ATTEMPTS": "10000",
    }
    RESULTS.mkdir(exist_ok=True)
    web_log = RESULTS / "web.log"
    worker_log = RESULTS / "worker.log"
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers.worker"],
        cwd=ROOT,
        env=env,
        stdout=worker_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    web = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "reflex",
            "run",
            "--env",
            "prod",
            "--single-port",
            "--backend-host",
            "127.0.0.1",
            "--frontend-port",
            str(port),
            "--backend-port",
            str(port),
        ],
        cwd=ROOT,
        env=env,
        stdout=web_log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_ping(url, web, web_log)
        yield url
    finally:
        _stop(web)
        _stop(worker)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless; nothing downloads a browser."""
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS
        )
        yield instance
        instance.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    """Keep each phase's report on the item so fixtures can see a failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture
def context(
    browser: Browser, request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    """A fresh browser profile per test, traced; artifacts kept on failure."""
    ctx = browser.new_context(
        viewport={"width": 1360, "height": 860}, accept_downloads=True
    )
    ctx.tracing.start(screenshots=True, snapshots=True)
    yield ctx
    failed = (
        getattr(request.node, "rep_call", None) is not None
        and request.node.rep_call.failed
    )
    if failed:
        target = RESULTS / request.node.name
        target.mkdir(parents=True, exist_ok=True)
        for index, open_page in enumerate(ctx.pages):
            open_page.screenshot(path=str(target / f"page{index}.png"), full_page=True)
        ctx.tracing.stop(path=str(target / "trace.zip"))
    else:
        ctx.tracing.stop()
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    """A page in this test's browser profile."""
    new_page = context.new_page()
    new_page.set_default_timeout(15_000)
    return new_page
