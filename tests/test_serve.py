"""``sapnet serve``: the HTTP API of a real server on a free loopback port, with a tiny model.

The server runs as the command runs it (its own process, ``add_arguments`` + ``run``), its
temporary folder under a TMPDIR of the test's, so the tests see that uploads are removed while it
runs and the folder when it stops. Requests go to 127.0.0.1 only, a bounded number of them.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from sapnet.models import save_checkpoint
from tests.conftest import tiny_model

pytest.importorskip("starlette", reason="sapnet serve needs the serve extra (starlette)")
pytest.importorskip("uvicorn", reason="sapnet serve needs the serve extra (uvicorn)")
pytest.importorskip("python_multipart", reason="sapnet serve needs the serve extra (python-multipart)")

from sapnet.commands import serve as serve_command  # noqa: E402

# `sapnet serve` from its module, whatever the command table says; Ctrl-C ends it with 130 as
# sapnet.cli does
LAUNCH = """
import argparse, sys
from sapnet.commands import serve
parser = argparse.ArgumentParser(prog="sapnet serve")
serve.add_arguments(parser)
try:
    sys.exit(serve.run(parser.parse_args()))
except KeyboardInterrupt:
    sys.exit(130)
"""
MAX_UPLOAD_MB = 1.0
MAX_MEGAPIXELS = 0.5
QUEUE = 2
START_TIMEOUT = 120  # seconds: importing torch on a busy 2-core machine


@dataclass
class Server:
    url: str  # ends with "/"
    process: subprocess.Popen
    temp_root: Path  # the server's TMPDIR
    log: Path

    def upload_folders(self) -> list[Path]:
        return sorted(self.temp_root.glob("sapnet-serve-*"))


def tiny_checkpoint(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return save_checkpoint(tiny_model(), folder / "tiny.safetensors")


def start_server(folder: Path, *options: str) -> Server:
    """``sapnet serve --port 0 OPTIONS`` in its own process, once it prints its URL."""
    temp_root = folder / "tmp"
    temp_root.mkdir(parents=True, exist_ok=True)
    log = folder / "server.log"
    env = {**os.environ, "TMPDIR": str(temp_root), "PYTHONUNBUFFERED": "1"}
    with open(log, "w") as out:
        process = subprocess.Popen(
            [sys.executable, "-c", LAUNCH, "--port", "0", *options], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())
        if found:
            return Server(found.group(0), process, temp_root, log)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    pytest.fail(f"sapnet serve did not start:\n{log.read_text()}")


def stop_server(server: Server) -> int:
    """Ctrl-C, as a person stops it; the exit code."""
    server.process.send_signal(signal.SIGINT)
    try:
        return server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        raise


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve")
    weights = tiny_checkpoint(folder)
    running = start_server(
        folder, "--weights", f"tiny={weights}", "--max-upload-mb", str(MAX_UPLOAD_MB),
        "--max-megapixels", str(MAX_MEGAPIXELS), "--queue", str(QUEUE),
    )
    yield running
    if running.process.poll() is None:
        stop_server(running)


# ------------------------------------------------------------------------------------------
# a small HTTP client (the standard library's), multipart included

@dataclass
class Reply:
    status: int
    headers: dict
    body: bytes

    def error(self) -> str:
        """The one-line message of a JSON error, checked for its shape."""
        assert self.headers["content-type"] == "application/json", self.headers
        assert b"\n" not in self.body
        payload = json.loads(self.body)
        assert set(payload) == {"error"} and isinstance(payload["error"], str) and payload["error"]
        return payload["error"]


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    for name, (filename, data) in files.items():
        head = (f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n")
        parts.append(head.encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


def request(url: str, data: bytes | None = None, headers: dict | None = None, timeout: float = 60) -> Reply:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers or {}), timeout=timeout) as answer:
            return Reply(answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.read())
    except urllib.error.HTTPError as refused:
        return Reply(refused.code, {k.lower(): v for k, v in refused.headers.items()}, refused.read())


def derain(server: Server, filename: str | None, data: bytes | None, **fields: str) -> Reply:
    body, content_type = multipart(fields, {} if data is None else {"image": (filename, data)})
    return request(server.url + "api/derain", body, {"Content-Type": content_type})


def image_bytes(size=(48, 40), mode="RGB", fmt="PNG", seed=0, **options) -> bytes:
    """A noise image encoded as ``fmt`` (Pillow's save ``options``)."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    image = Image.fromarray(array[..., 0] if channels == 1 else array, mode)
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def assert_answers(server: Server) -> None:
    assert request(server.url + "api/models").status == 200


# ------------------------------------------------------------------------------------------
# the API

def test_models_lists_bundled_and_given_models_with_metrics(server):
    reply = request(server.url + "api/models")
    assert reply.status == 200 and reply.headers["content-type"] == "application/json"
    models = {model["name"]: model for model in json.loads(reply.body)}
    from sapnet import hub

    assert list(models)[: len(hub.BUNDLED)] == list(hub.BUNDLED)
    assert ("official" in models) == hub.OFFICIAL.path.is_file()
    assert models["tiny"]["default"] and models["tiny"]["origin"] == "file"
    assert [name for name, model in models.items() if model["default"]] == ["tiny"]
    assert str(Path.home()) not in models["tiny"]["description"]  # the file's name, not where it is
    bundled = models[hub.DEFAULT_WEIGHTS]
    assert bundled["origin"] == "bundled" and bundled["metrics"] == hub.BUNDLED[hub.DEFAULT_WEIGHTS].meta["metrics"]


def test_limits_are_published_for_the_page(server):
    limits = json.loads(request(server.url + "api/limits").body)
    assert limits["max_upload_bytes"] == MAX_UPLOAD_MB * 1e6 and limits["max_megapixels"] == MAX_MEGAPIXELS
    assert limits["queue_places"] == QUEUE and "png" in limits["formats"]


@pytest.mark.parametrize(
    ("filename", "fmt", "options", "expected_type"),
    [
        ("rainy.png", None, {}, "image/png"),
        ("rainy.jpg", None, {}, "image/jpeg"),
        ("rainy.jpg", "png", {}, "image/png"),
        ("rainy.png", "webp", {}, "image/webp"),
        ("no_extension", None, {}, "image/png"),  # as sapnet derain: a name it cannot write comes out as PNG
    ],
)
def test_derain_answers_the_image_in_the_asked_format_at_the_same_size(server, filename, fmt, options, expected_type):
    source_format = "JPEG" if filename.endswith(".jpg") else "PNG"
    fields = {"format": fmt} if fmt else {}
    reply = derain(server, filename, image_bytes((53, 37), fmt=source_format), **fields)
    assert reply.status == 200, reply.body[:300]
    assert reply.headers["content-type"] == expected_type
    assert reply.headers["x-sapnet-model"] == "tiny"
    result = Image.open(io.BytesIO(reply.body))
    assert result.size == (53, 37)
    assert "_derained." in reply.headers["content-disposition"]


def test_derain_keeps_alpha_and_grayscale_as_the_command_does(server):
    rgba = Image.open(io.BytesIO(derain(server, "a.png", image_bytes(mode="RGBA")).body))
    gray = Image.open(io.BytesIO(derain(server, "g.png", image_bytes(mode="L")).body))
    assert (rgba.mode, gray.mode) == ("RGBA", "L")


def test_derain_gives_exactly_what_sapnet_derain_writes(server, tmp_path):
    from sapnet.cli import main

    weights = tiny_checkpoint(tmp_path / "weights")
    source = tmp_path / "rainy.jpg"
    source.write_bytes(image_bytes((61, 45), fmt="JPEG", quality=90))
    assert main(["derain", str(source), "-o", str(tmp_path / "out"), "--weights", str(weights), "--quiet"]) == 0
    written = (tmp_path / "out" / "rainy.jpg").read_bytes()
    reply = derain(server, "rainy.jpg", source.read_bytes())
    assert reply.status == 200
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(reply.body))), np.asarray(Image.open(io.BytesIO(written))))


def test_the_upload_name_is_only_a_name(server):
    reply = derain(server, "../../../tmp/evil\\night.png", image_bytes())
    assert reply.status == 200
    assert 'filename="night_derained.png"' in reply.headers["content-disposition"]
    refused = derain(server, "line\nbreak.png", b"text")
    assert refused.status == 422 and refused.error().startswith("line\\nbreak.png: ")


def test_an_animated_gif_is_derained_from_its_first_frame_with_a_warning(server):
    frames = [Image.new("RGB", (30, 20), colour) for colour in ("red", "blue")]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    reply = derain(server, "anim.gif", out.getvalue())
    assert reply.status == 200 and reply.headers["content-type"] == "image/png"  # GIF is not an output format
    assert "only the first is derained" in reply.headers["x-sapnet-warning"]


def test_a_bundled_model_is_chosen_by_name(server):
    from sapnet import hub

    reply = derain(server, "rainy.png", image_bytes((24, 20)), model=hub.DEFAULT_WEIGHTS)
    assert reply.status == 200 and reply.headers["x-sapnet-model"] == hub.DEFAULT_WEIGHTS


def _truncated_png() -> bytes:
    data = image_bytes((64, 64))
    return data[: len(data) // 2]


def _over_the_megapixels() -> bytes:
    out = io.BytesIO()
    Image.new("L", (1000, 1000)).save(out, "PNG")  # 1 MP (over the 0.5 MP limit) in 1 kB
    return out.getvalue()


BAD_UPLOADS = {  # case: (file name, file bytes or None for no file, other fields, status, words of the message)
    "not an image": ("notes.png", lambda: b"this is text, not a picture\n", {}, 422, "not an image"),
    "empty file": ("empty.png", lambda: b"", {}, 422, "empty"),
    "truncated": ("half.png", _truncated_png, {}, 422, "truncated"),
    "over the megapixel limit": ("big.png", _over_the_megapixels, {}, 422, "megapixels"),
    "unknown model": ("rainy.png", image_bytes, {"model": "../../etc/passwd"}, 400, "unknown model"),
    "unknown format": ("rainy.png", image_bytes, {"format": "gif"}, 400, "unknown format"),
    "no image field": (None, None, {"model": "tiny"}, 400, "no image"),
}


@pytest.mark.parametrize("case", BAD_UPLOADS)
def test_bad_uploads_get_a_one_line_json_error_and_the_server_goes_on(server, case):
    filename, make, fields, status, words = BAD_UPLOADS[case]
    reply = derain(server, filename, make() if make else None, **fields)
    assert reply.status == status, (case, reply.body)
    message = reply.error()
    assert words in message, message
    assert str(server.temp_root) not in message  # the server's own paths stay on the server
    if filename and status == 422:
        assert message.startswith(f"{filename}: ")
    assert_answers(server)


def test_an_upload_over_the_size_limit_gets_413(server):
    reply = derain(server, "huge.png", b"\0" * int(MAX_UPLOAD_MB * 1e6 + 1000))  # within the form's allowance
    assert reply.status == 413 and "MB limit" in reply.error()
    assert_answers(server)


def _raw_exchange(server: Server, head: str, body_parts: list[bytes] = ()) -> Reply:
    """Send a hand-made request (headers, then body pieces) and read the answer to its end.

    The connection is kept alive, as a browser's is: the server then reads and drops the rest of
    a refused body instead of closing on it (which would reset the connection)."""
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        connection.sendall(head.encode())
        for part in body_parts:
            connection.sendall(part)
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += connection.recv(65536)
        head_bytes, _, body = answer.partition(b"\r\n\r\n")
        lines = head_bytes.decode("latin-1").split("\r\n")
        headers = {key.lower(): value for key, value in (line.split(": ", 1) for line in lines[1:])}
        while len(body) < int(headers["content-length"]):
            body += connection.recv(65536)
    return Reply(int(lines[0].split()[1]), headers, body)


def test_a_declared_length_over_the_limit_is_refused_before_the_body_is_sent(server):
    head = ("POST /api/derain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            f"Content-Length: {100 * 1000 * 1000}\r\n\r\n")
    reply = _raw_exchange(server, head)
    assert reply.status == 413 and "MB limit" in reply.error()


def test_a_chunked_upload_is_cut_off_at_the_limit(server):
    head = ("POST /api/derain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            "Transfer-Encoding: chunked\r\n\r\n")
    opening = b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
    piece = b"\0" * 100_000
    count = int(MAX_UPLOAD_MB * 1e6 // len(piece)) + 1  # just past the limit and its allowance
    chunks = [f"{len(opening):x}\r\n".encode() + opening + b"\r\n"]
    chunks += [f"{len(piece):x}\r\n".encode() + piece + b"\r\n"] * count
    reply = _raw_exchange(server, head, chunks)
    assert reply.status == 413 and "MB limit" in reply.error()
    assert_answers(server)


def test_two_concurrent_requests_are_both_derained(server):
    sizes = [(40, 30), (33, 47)]
    replies: dict[int, Reply] = {}

    def send(index: int) -> None:
        replies[index] = derain(server, f"photo{index}.png", image_bytes(sizes[index], seed=index))

    threads = [threading.Thread(target=send, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    for index, size in enumerate(sizes):
        assert replies[index].status == 200
        assert Image.open(io.BytesIO(replies[index].body)).size == size


def _poll(check, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return False


def test_a_full_queue_answers_503_and_frees_up_when_clients_leave(server):
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    head = ("POST /api/derain HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=x\r\n"
            "Content-Length: 500000\r\n\r\n--x\r\n")
    # uploads that never finish hold every place of the queue
    holders = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(QUEUE)]
    try:
        for holder in holders:
            holder.sendall(head.encode())
        full = []
        assert _poll(lambda: full.append(derain(server, "late.png", image_bytes())) or full[-1].status == 503)
        assert "busy" in full[-1].error() and full[-1].headers["retry-after"].isdigit()
    finally:
        for holder in holders:
            holder.close()
    assert _poll(lambda: derain(server, "later.png", image_bytes()).status == 200)
    assert _poll(lambda: not any(list(folder.iterdir()) for folder in server.upload_folders()))  # partial uploads gone


def test_requests_from_other_sites_and_hosts_are_refused(server):
    body, content_type = multipart({}, {"image": ("a.png", image_bytes())})
    cross_site = request(server.url + "api/derain", body, {"Content-Type": content_type, "Origin": "http://example.com"})
    assert cross_site.status == 403 and "refused" in cross_site.error()
    rebound = request(server.url + "api/models", headers={"Host": "attacker.example:80"})
    assert rebound.status == 421 and "attacker.example" in rebound.error()
    same_page = request(server.url + "api/derain", body, {"Content-Type": content_type, "Origin": server.url.rstrip("/")})
    assert same_page.status == 200


def test_unknown_paths_and_methods_are_json_errors(server):
    assert request(server.url + "etc/passwd").status == 404
    assert request(server.url + "static/../../README.md").status == 404
    assert request(server.url + "api/derain").status == 405
    assert request(server.url + "api/derain").error()


def test_the_page_and_its_assets_come_from_the_server_with_a_strict_policy(server):
    page = request(server.url)
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    html = page.body.decode()
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        if asset.startswith("data:"):
            continue
        assert "://" not in asset and not asset.startswith("//"), asset
        assert request(server.url + asset).status == 200, asset
    for script in ("static/app.js", "static/viewer.js", "static/zip.js", "static/style.css"):
        text = request(server.url + script).body.decode()
        assert "http://" not in text and "https://" not in text and "@import" not in text, script


def test_uploads_are_removed_and_the_folder_goes_when_the_server_stops(tmp_path):
    running = start_server(tmp_path, "--weights", str(tiny_checkpoint(tmp_path)), "--queue", "1")
    try:
        assert derain(running, "a.png", image_bytes()).status == 200
        assert derain(running, "bad.png", b"nope").status == 422
        (folder,) = running.upload_folders()
        assert list(folder.iterdir()) == []
    finally:
        code = stop_server(running)
    assert code == 130
    assert running.upload_folders() == []
    assert "derained with tiny" in running.log.read_text()


# ------------------------------------------------------------------------------------------
# the command's options

def _run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    serve_command.add_arguments(parser)
    return serve_command.run(parser.parse_args(argv))


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--port", "70000"], "--port"),
        (["--queue", "0"], "--queue"),
        (["--max-upload-mb", "nan"], "--max-upload-mb"),
        (["--max-megapixels", "-1"], "--max-megapixels"),
        (["--weights", "missing.safetensors"], "neither a weights name"),
    ],
)
def test_impossible_options_exit_2_with_one_line(capsys, argv, words):
    assert _run(*argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err


def test_model_names_must_be_free_and_plain(tmp_path, capsys):
    weights = tiny_checkpoint(tmp_path)
    from sapnet import hub

    assert _run("--weights", f"{hub.DEFAULT_WEIGHTS}={weights}", "--port", "0") == 2
    assert "already taken" in capsys.readouterr().err
    assert _run("--weights", f"{weights}", "--weights", f"{weights}", "--port", "0") == 2
    assert "already taken" in capsys.readouterr().err


def test_weights_that_do_not_load_stop_the_command_before_it_listens(tmp_path, capsys):
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    assert _run("--weights", str(broken), "--port", "0") == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_only_loopback_addresses_pass_without_a_warning():
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1"):
        assert serve_command.host_warning(host) is None
    for host in ("0.0.0.0", "::", "192.168.1.20", "myhost.local"):
        assert "other machines" in serve_command.host_warning(host)
    assert serve_command.page_url("0.0.0.0", 7860) == "http://127.0.0.1:7860/"
    assert serve_command.page_url("::1", 80) == "http://[::1]:80/"
