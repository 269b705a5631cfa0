"""Hub model ids over HTTP through the CLI's Hub code (provence-hub): a loopback fake Hub named
by HF_ENDPOINT, the token of HF_TOKEN sent, the files downloaded into HF_HUB_CACHE and read from
there afterwards with HF_HUB_OFFLINE=1."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import FIXTURES, load_cases

from open_provence_rs import OpenProvence

REPO = "owner/tiny"
SHA = "0123456789abcdef0123456789abcdef01234567"
FILES = {p.name: p.read_bytes() for p in (FIXTURES / "process" / "model").iterdir()}


class FakeHub(BaseHTTPRequestHandler):
    """The Hub's `api/models/<repo>/revision/main` listing and `<repo>/resolve/main/<file>`
    downloads (ranges answered as the Hub does); every request's path and token are recorded."""

    seen: list[tuple[str, str | None]] = []

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.seen.append((self.path, self.headers.get("Authorization")))
        resolve = f"/{REPO}/resolve/main/"
        if self.path == f"/api/models/{REPO}/revision/main":
            body = json.dumps({"sha": SHA, "siblings": [{"rfilename": f} for f in sorted(FILES)]}).encode()
            self.answer(200, body, {"Content-Type": "application/json"})
        elif self.path.startswith(resolve) and self.path[len(resolve):] in FILES:
            data = FILES[self.path[len(resolve):]]
            first, _, last = self.headers.get("Range", "bytes=0-").removeprefix("bytes=").partition("-")
            start, end = int(first or 0), int(last) + 1 if last else len(data)
            headers = {"ETag": f'"blob{len(data)}"', "X-Repo-Commit": SHA,
                       "Content-Range": f"bytes {start}-{end - 1}/{len(data)}"}
            self.answer(206, data[start:end], headers)
        else:
            self.answer(404, b"not found", {})

    def answer(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        """Quiet."""


@pytest.fixture
def fake_hub():
    FakeHub.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_hub_id_downloads_with_the_token_then_loads_offline(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", fake_hub)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.setenv("HF_TOKEN", "hf_python_test")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    case = load_cases("process/cases.json")[0]
    model = OpenProvence.from_pretrained(REPO)
    out = model.process(case["question"], case["context"], show_progress=False, **case["options"])
    assert out["pruned_context"] == case["output"]["pruned_context"]
    paths = [path for path, _ in FakeHub.seen]
    assert f"/api/models/{REPO}/revision/main" in paths
    assert any(p.endswith("/model.safetensors") for p in paths), paths
    assert {token for _, token in FakeHub.seen} == {"Bearer hf_python_test"}
    assert (tmp_path / "models--owner--tiny" / "snapshots" / SHA / "config.json").is_file()

    FakeHub.seen = []
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    again = OpenProvence.from_pretrained(REPO).process(case["question"], case["context"], show_progress=False,
                                                       **case["options"])
    assert again["pruned_context"] == out["pruned_context"] and FakeHub.seen == []


def test_an_unknown_hub_id_is_an_os_error_naming_it(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", fake_hub)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(OSError, match="owner/missing"):
        OpenProvence.from_pretrained("owner/missing")
