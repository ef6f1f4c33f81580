"""``dx-pipeline site`` builds the site of published revisions and, with ``--serve``, shows it on
127.0.0.1 through a real HTTP server."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from dx_pipeline.cli.main import main
from dx_pipeline.publish.layout import site_root
from dx_pipeline.publish.site.pages import agency_href
from dx_pipeline.publish.site.serve import site_server


def _get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, "", b""


def test_the_server_serves_the_site_and_nothing_outside_it(site):
    server = site_server(site.path.parent.parent, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host, port = server.server_address[:2]
        assert host == "127.0.0.1"
        base = f"http://{host}:{port}/{site.path.parent.name}/{site.path.name}"
        status, kind, body = _get(f"{base}/index.html")
        assert status == 200 and kind.startswith("text/html") and "Kết quả đánh giá" in body.decode("utf-8")
        status, kind, _ = _get(f"{base}/du-lieu/ranking.csv")
        assert status == 200 and kind.startswith("text/csv")
        assert _get(f"{base}/{agency_href('SO-TC')}")[0] == 200
        assert _get(f"http://{host}:{port}/../../manifest.json")[0] == 404
    finally:
        server.shutdown()
        server.server_close()


def test_the_command_builds_every_period_and_writes_the_front_page(province_home, capsys):
    home, publications = province_home
    assert main(["--home", str(home.root), "site"]) == 0
    out = capsys.readouterr().out
    for p in publications:
        line = rf"{p.period}\s+rev=1\s+tạm thời / provisional\s+\d+ pages,\s+\d+ agencies"
        assert re.search(line, out), out
    front = (site_root(home) / "index.html").read_text(encoding="utf-8")
    for q in ("2025-Q3", "2025-Q4"):
        assert f'href="quarter={q}/rev=1/index.html"' in front
    assert main(["--home", str(home.root), "site", "--rev", "1"]) == 1
    assert "--rev needs --quarter" in capsys.readouterr().err
    assert main(["--home", str(home.root), "site", "--quarter", "2025-Q4", "--rev", "9"]) == 1
    assert "2025-Q4 has no revision 9" in capsys.readouterr().err


@pytest.mark.timeout(300)
def test_serve_shows_the_site_on_localhost_until_stopped(province_home):
    home, _ = province_home
    proc = subprocess.Popen(
        [sys.executable, "-m", "dx_pipeline.cli", "--home", str(home.root), "site", "--quarter", "2025-Q4",
         "--serve", "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        url = None
        deadline = time.monotonic() + 240
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, proc.stderr.read()
            if m := re.search(r"2025-Q4: (http://127\.0\.0\.1:\d+/\S+/)", line):
                url = m.group(1)
        assert url, "the server never said where it serves"
        status, _, body = _get(url + "index.html")
        assert status == 200 and "Quý 4/2025" in body.decode("utf-8")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
    assert proc.returncode == 0
