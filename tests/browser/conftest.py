"""Browser tests: Playwright drives Debian's chromium against pytest-django's live server.

One browser for the whole session (launching it is the slow part); each test gets a fresh
context, logged in with a session cookie made by Django's test client. Every page records
uncaught exceptions, console errors and Content Security Policy violations, and a test that
leaves any behind fails.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test import Client
from django.test.testcases import LiveServerThread

# Playwright's sync API runs an event loop in the test's thread, so Django's async-safety check
# would refuse the test's own database access; the live server answers from its own thread.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
REPO = Path(__file__).resolve().parents[2]
VIEWPORT = {"width": 1366, "height": 768}

FAILED_RESOURCE = re.compile(
    r"Failed to load resource: the server responded with a status of (\d+)"
)

# Chromium reports a CSP violation on the console too, but only an event carries the details.
REPORT_CSP_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", (e) => {
  console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


class OneRequestAtATime(ThreadedWSGIServer):
    """The live server, answering one request at a time.

    Its threads share the test's in-memory SQLite connection, and one connection used by two
    threads at once mixes up their queries' results: a page that fetches in parallel (the
    editor, after a save, reloads the graph, the policy list and its check) would get 500s.
    Connections are still accepted in threads, so an idle one (Chromium opens some ahead of
    need) holds nobody up.
    """

    # Class-wide, so that a test can also hold it while it runs the analysis worker.
    lock = threading.Lock()

    def set_app(self, application) -> None:
        lock = self.lock

        def serially(environ, start_response):
            with lock:
                result = application(environ, start_response)
                try:
                    return list(result)  # the whole body, before the next request runs
                finally:
                    if hasattr(result, "close"):
                        result.close()

        super().set_app(serially)


@pytest.fixture(scope="session", autouse=True)
def one_request_at_a_time() -> Iterator[None]:
    original = LiveServerThread.server_class
    LiveServerThread.server_class = OneRequestAtATime
    yield
    LiveServerThread.server_class = original


@pytest.fixture
def run_worker():
    """Run the analysis worker until no task is left, between two of the page's requests
    (its own connection to the in-memory database must not run beside the server's)."""
    from tests.workers import run_worker_thread

    def run() -> None:
        with OneRequestAtATime.lock:
            run_worker_thread()

    return run


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium (never a downloaded build), shared by every browser test."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is missing: `make browser-deps` installs it")
    from playwright.sync_api import expect, sync_playwright

    # The big cluster's page is megabytes of HTML: give a loaded machine time (the 5 s default
    # is not much when the test machine is busy).
    expect.set_options(timeout=20_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def user(django_user_model) -> AbstractBaseUser:
    return django_user_model.objects.create_user(username="pat")


@pytest.fixture
def make_other_user(django_user_model):
    """Another person, to share a cluster with or to change it behind the page's back."""

    def make(username: str) -> AbstractBaseUser:
        return django_user_model.objects.create_user(username=username)

    return make


@pytest.fixture
def page_errors() -> list[str]:
    """Everything that went wrong in the page's JavaScript, as text."""
    return []


@pytest.fixture
def expected_statuses() -> set[int]:
    """HTTP error statuses a test expects the page to receive (a 409 conflict, say): Chromium
    logs every such response as a console error, which would otherwise fail the test."""
    return set()


@pytest.fixture
def page(
    browser, live_server, user, page_errors: list[str], expected_statuses: set[int]
) -> Iterator[object]:
    """A logged-in page; the test fails if the page logged errors or broke the CSP."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    context.add_init_script(REPORT_CSP_VIOLATIONS)
    tab = context.new_page()
    tab.set_default_timeout(20_000)

    def on_console(message) -> None:
        if message.type != "error":
            return
        status = FAILED_RESOURCE.match(message.text)
        if status and int(status[1]) in expected_statuses:
            return
        page_errors.append(f"console.error: {message.text}")

    tab.on("pageerror", lambda error: page_errors.append(f"uncaught: {error}"))
    tab.on("console", on_console)
    yield tab
    context.close()
    assert page_errors == [], "the page logged JavaScript errors"


@pytest.fixture(scope="session")
def big_cluster_files(tmp_path_factory) -> list[tuple[str, bytes]]:
    """The benchmark's L cluster: ~2,300 workloads and 2,400 policies in 60 namespaces."""
    script = REPO / "benchmarks" / "generate.py"
    if not script.exists():
        pytest.skip("benchmarks/generate.py is not in this checkout")
    outdir = tmp_path_factory.mktemp("cluster-L")
    subprocess.run([sys.executable, str(script), "L", str(outdir)], check=True, capture_output=True)
    return [(path.name, path.read_bytes()) for path in sorted(outdir.glob("*.yaml"))]


@pytest.fixture(scope="session")
def big_cluster_parts(big_cluster_files):
    """Its engine snapshot and cached graph, computed once for the session (no database)."""
    from policies import engine, snapshots
    from policies.engine.graph import FlowIndex

    snapshot = snapshots.parse_manifests(big_cluster_files)
    return snapshot, FlowIndex.build(engine.evaluate(snapshot)).to_dict()
