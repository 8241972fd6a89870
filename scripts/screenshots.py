"""Regenerate the README's screenshots from the real UI: a throw-away database with the demo,
the development server, and Debian's chromium driven by Playwright.

    .venv/bin/python scripts/screenshots.py [OUTDIR]   # default: docs/screenshots

Three pictures: the graph with the inspector explaining a flow, the editor with the impact of
an edit, and the namespace matrix. Nothing is drawn by hand; run it again after a UI change.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
VIEWPORT = {"width": 1440, "height": 860}
USER, PASSWORD = "reviewer", "screenshots-only-password"
EDGE_PROXY = "shop-frontend/edge-proxy[Deployment]"
STOREFRONT = "shop-frontend/storefront[Deployment]"

SETUP = f"""
from django.contrib.auth import get_user_model
from policies import revisions
user = get_user_model().objects.create_user({USER!r}, password={PASSWORD!r})
print(revisions.load_demo(user).pk)
"""

SELECT = """([needle, replacement]) => {
  const view = window.netviz.editor.view;
  const at = view.state.doc.toString().indexOf(needle);
  view.dispatch({changes: {from: at, to: at + needle.length, insert: replacement}});
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict[str, str], *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / "manage.py"), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        **kwargs,
    )


def wait_until_up(url: str, server: subprocess.Popen) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"the server stopped: {server.stderr.read() if server.stderr else ''}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server did not answer")


def shoot(base: str, pk: int, outdir: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport=VIEWPORT, base_url=base)
        page.set_default_timeout(60_000)
        # the demo's first tour would cover the graph: the pictures are of a returning user
        page.add_init_script("localStorage.setItem('netviz:onboarding', 'dismissed')")
        page.goto("/accounts/login/")
        page.fill("input[name=username]", USER)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url("**/")

        # 1. the graph, and the inspector explaining the edge the user tapped
        page.goto(f"/clusters/{pk}/")
        page.wait_for_function("() => window.netviz && window.netviz.loads >= 1")
        page.evaluate(
            "id => { window.netviz.cy.getElementById(id).emit('tap'); }",
            f"{EDGE_PROXY}->{STOREFRONT}",
        )
        page.wait_for_selector("[data-testid=verdict]")
        page.wait_for_timeout(400)  # the layout's last frame
        page.screenshot(path=outdir / "graph-inspector.png")

        # 2. the editor with the impact of an edit, highlighted on the graph
        page.goto(f"/clusters/{pk}/?policy=shop-frontend/storefront")
        page.wait_for_function(
            "() => window.netviz && window.netviz.loads >= 1 && window.netviz.editor"
            " && window.netviz.editor.state().check !== null"
        )
        page.evaluate(SELECT, ["app: edge-proxy", "app: nobody"])
        page.wait_for_selector("[data-testid=impact] .impact-row")
        page.wait_for_timeout(400)
        page.screenshot(path=outdir / "editor-impact.png")

        # 3. the namespace matrix
        page.goto(f"/clusters/{pk}/?view=matrix")
        page.wait_for_selector("[data-testid=matrix] table")
        page.screenshot(path=outdir / "matrix.png")
        browser.close()


def main() -> None:
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "screenshots"
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/screenshots.sqlite3",
            "NETVIZ_DEBUG": "true",  # the development server serves the static files
        }
        manage(env, "migrate", "--noinput")
        pk = int(manage(env, "shell", "-c", SETUP).stdout.strip().splitlines()[-1])
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, str(REPO / "manage.py"), "runserver", f"127.0.0.1:{port}",
             "--noreload"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/accounts/login/", server)
            shoot(base, pk, outdir)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for name in ("graph-inspector.png", "editor-impact.png", "matrix.png"):
        print(outdir / name)


if __name__ == "__main__":
    main()
