"""The embedded default, end to end: `make run` on a fresh machine state answers like the README says.

It starts `make run` in its own process group on a free port, with a fresh LODESTAR_VAR_DIR (so its own
SQLite database, broker folder and data root) and without DATABASE_URL or CELERY_BROKER_URL, waits for it
to answer, signs in as the demo product manager through the API and the login form, checks a stylesheet
is served, and stops it the way Ctrl-C does.
"""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.smoke,
    pytest.mark.skipif(shutil.which("make") is None, reason="make is not on PATH: cannot start `make run`"),
]

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180  # migrate, collectstatic and seed_demo on a fresh SQLite database
STOP_TIMEOUT = 40  # the run script gives each process 20 s, then kills it
DEMO_ROWS = 2000
PASSWORD = "lodestar"

# What the caller's environment (pytest-django, CI, a developer's shell) may set that the embedded
# default must do without; every LODESTAR_* variable is dropped as well.
SCRUBBED = {
    "DATABASE_URL",
    "DATABASE_CONN_MAX_AGE",
    "CELERY_BROKER_URL",
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "SECRET_KEY_FILE",
    "DEBUG",
    "ALLOWED_HOSTS",
    "SECURE_COOKIES",
    "MAKEFLAGS",
    "MFLAGS",
    "MAKELEVEL",
}


@dataclass
class Server:
    process: subprocess.Popen
    base_url: str
    port: int
    log: Path

    def url(self, path: str) -> str:
        return self.base_url + path

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def embedded_env(var_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith("LODESTAR_")}
    env["LODESTAR_VAR_DIR"] = str(var_dir)
    return env


def start(tmp: Path) -> Server:
    port = free_port()
    log = tmp / "make-run.log"
    command = ["make", "--no-print-directory", "run", "HOST=127.0.0.1", f"PORT={port}", f"DEMO_ROWS={DEMO_ROWS}"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=embedded_env(tmp / "var"),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so the test can Ctrl-C all of it
        )
    return Server(process=process, base_url=f"http://127.0.0.1:{port}", port=port, log=log)


def wait_until_answering(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"make run exited with {server.process.returncode} before answering:\n{server.log_tail()}")
        try:
            urllib.request.urlopen(server.url("/login/"), timeout=5)
            return
        except urllib.error.HTTPError:
            return  # it answers; the tests say whether the answer is right
        except OSError:
            time.sleep(1)
    pytest.fail(f"make run did not answer within {START_TIMEOUT} s:\n{server.log_tail()}")


def group_alive(pgid: int) -> bool:
    """Does any live (non-zombie) process remain in the process group?"""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended while we looked
        state, process_group = fields[0], int(fields[2])
        if process_group == pgid and state != "Z":
            return True
    return False


def kill_group(pgid: int) -> None:
    if group_alive(pgid):
        os.killpg(pgid, signal.SIGKILL)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    server = start(tmp_path_factory.mktemp("make-run"))
    try:
        wait_until_answering(server)
        yield server
    finally:
        kill_group(server.process.pid)  # whatever the tests did, leave nothing running
        server.process.wait(timeout=10)


def request(server: Server, path: str, *, data: dict | None = None, headers: dict | None = None, opener=None):
    """(status, headers, body) of one request; HTTP errors are answers too."""
    body = json.dumps(data).encode() if data is not None else None
    all_headers = {"Accept": "application/json", **({"Content-Type": "application/json"} if body else {})}
    req = urllib.request.Request(server.url(path), data=body, headers={**all_headers, **(headers or {})})
    try:
        with (opener or urllib.request.build_opener()).open(req, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def token_for(server: Server, username: str) -> str:
    status, _, body = request(server, "/api/v1/auth/token/", data={"username": username, "password": PASSWORD})
    assert status == 200, f"token for {username}: {status} {body[:300]!r}\n{server.log_tail()}"
    return json.loads(body)["token"]


def test_it_gives_the_demo_product_manager_a_token_and_lists_products(server):
    token = token_for(server, "pm")

    status, _, body = request(server, "/api/v1/products/", headers={"Authorization": f"Token {token}"})

    assert status == 200, f"{status} {body[:300]!r}\n{server.log_tail()}"
    page = json.loads(body)
    assert {"count", "results"} <= page.keys()
    assert page["count"] >= 3
    assert len(page["results"]) >= 3


def test_it_refuses_the_api_to_anonymous_visitors(server):
    status, _, _ = request(server, "/api/v1/products/")

    assert status in (401, 403)


def test_it_serves_the_login_page_and_its_stylesheets(server):
    status, _, body = request(server, "/login/", headers={"Accept": "text/html"})
    assert status == 200, f"/login/ answered {status}\n{server.log_tail()}"

    links = [tag for tag in re.findall(r"<link\b[^>]*>", body.decode()) if re.search(r"rel=.?stylesheet", tag)]
    stylesheets = [re.search(r"""href=["']([^"']+)""", tag).group(1) for tag in links]
    assert stylesheets, "the login page links no stylesheet"
    for href in stylesheets:
        status, headers, _ = request(server, urllib.parse.urljoin("/login/", href), headers={"Accept": "text/css"})
        assert status == 200, f"{href} answered {status}"
        assert headers.get_content_type() == "text/css"


def test_it_signs_the_demo_product_manager_in_through_the_login_form(server):
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    _, _, body = request(server, "/login/", headers={"Accept": "text/html"}, opener=opener)
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode())
    assert csrf, "the login page has no CSRF token"

    form = urllib.parse.urlencode(
        {"username": "pm", "password": PASSWORD, "csrfmiddlewaretoken": csrf.group(1)}
    ).encode()
    req = urllib.request.Request(server.url("/login/"), data=form, headers={"Accept": "text/html"})
    with opener.open(req, timeout=30) as response:  # follows the redirect to the home page
        home_status, home_url, home = response.status, response.url, response.read().decode()

    assert home_status == 200
    assert urllib.parse.urlsplit(home_url).path == "/", f"signed in, but landed on {home_url}"
    assert 'name="password"' not in home, "still on the login form after signing in"


def test_it_stops_everything_on_ctrl_c(server):
    pgid = server.process.pid

    os.killpg(pgid, signal.SIGINT)  # what a terminal sends to the foreground process group

    try:
        server.process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.fail(f"make run still running {STOP_TIMEOUT} s after Ctrl-C:\n{server.log_tail()}")
    deadline = time.monotonic() + 10
    while group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not group_alive(pgid), "make exited but left processes behind"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
