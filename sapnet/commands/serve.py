"""``sapnet serve``: a web page (and the HTTP API it uses) that derains photos dropped on it,
served on this machine's loopback address unless another is asked for (see :mod:`sapnet.serve`)."""

from __future__ import annotations

import argparse
import ipaddress
import math
import socket
import sys
import threading
import webbrowser

from sapnet.hub import WEIGHTS

DEFAULT_PORT = 7860
DEFAULT_MAX_UPLOAD_MB = 50.0
# a 25-megapixel photo takes about 6 minutes on a 2-core CPU (README, Speed); larger ones would
# hold the queue for far longer than a page can usefully wait
DEFAULT_MAX_MEGAPIXELS = 25.0
DEFAULT_QUEUE = 8
GRACEFUL_SHUTDOWN_SECONDS = 5  # Ctrl-C waits this long for open requests, then stops anyway


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0: any free one)")
    parser.add_argument(
        "--weights",
        action="append",
        default=[],
        metavar="[NAME=]WEIGHTS",
        help=f"offer this model too: a weights name ({', '.join(WEIGHTS)}) or a checkpoint file, called NAME "
        "(default: the file's stem); repeatable; the first is the page's default (else the default bundled model)",
    )
    parser.add_argument("--open", action="store_true", help="open the page in the default web browser")
    parser.add_argument(
        "--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_MB, help=f"largest upload in MB (default: {DEFAULT_MAX_UPLOAD_MB:g})"
    )
    parser.add_argument(
        "--max-megapixels", type=float, default=DEFAULT_MAX_MEGAPIXELS, help=f"largest image (default: {DEFAULT_MAX_MEGAPIXELS:g})"
    )
    parser.add_argument(
        "--queue",
        type=int,
        default=DEFAULT_QUEUE,
        help=f"images admitted at once, running or waiting; more get 503 (default: {DEFAULT_QUEUE})",
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: it may well resolve to a network interface
        return False


def host_warning(host: str) -> str | None:
    """What to tell the user before listening on ``host``, or None for a loopback address."""
    if is_loopback(host):
        return None
    return (
        f"listening on {host}: other machines that reach this address can use the page and the API "
        "(no password, no encryption); --host 127.0.0.1 keeps it to this machine"
    )


def page_url(host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _option_problem(args: argparse.Namespace) -> str | None:
    if not 0 <= args.port <= 65535:
        return f"--port must be 0..65535, got {args.port}"
    for option, value in (("--max-upload-mb", args.max_upload_mb), ("--max-megapixels", args.max_megapixels)):
        if not (value > 0 and math.isfinite(value)):  # also refuses NaN
            return f"{option} must be a positive number, got {value}"
    if args.queue < 1:
        return f"--queue must be at least 1, got {args.queue}"
    return None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def run(args: argparse.Namespace) -> int:
    def error(message: str) -> int:
        print(f"error: {message}", file=sys.stderr)
        return 2

    problem = _option_problem(args)
    if problem:
        return error(problem)
    try:  # the optional dependencies (the `serve` extra)
        import python_multipart  # noqa: F401  (Starlette's form parser)
        import uvicorn

        from sapnet.serve import Limits, build_catalogue, create_app
        from sapnet.serve.guard import LOOPBACK_NAMES
    except ImportError as missing:
        return error(f"sapnet serve needs the package {missing.name}: python3 -m pip install 'sapnet[serve]'")

    try:
        catalogue = build_catalogue(args.weights)
        for name in catalogue.startup:
            catalogue.get(name)
    except (RuntimeError, ValueError) as problem:  # hub.WeightsError is a RuntimeError
        return error(str(problem))
    try:
        listener = _listen(args.host, args.port)
    except OSError as problem:
        return error(f"cannot listen on {args.host} port {args.port} ({problem.strerror or problem})")
    warning = host_warning(args.host)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    limits = Limits(round(args.max_upload_mb * 1e6), args.max_megapixels, args.queue)
    allowed_hosts = LOOPBACK_NAMES | {args.host.lower()} if warning is None else None
    app = create_app(catalogue, limits, allowed_hosts, log=lambda line: print(line, flush=True))
    url = page_url(args.host, listener.getsockname()[1])
    names = ", ".join(f"{name} (default)" if name == catalogue.default else name for name in catalogue.models)
    print(f"sapnet serve: {url}  models: {names}; Ctrl-C stops", flush=True)
    if args.open:  # in a thread: a text-mode browser would otherwise hold the terminal
        threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()
    config = uvicorn.Config(
        app, log_level="warning", server_header=False, timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS
    )
    server = uvicorn.Server(config)
    server.run(sockets=[listener])  # until Ctrl-C or SIGTERM, which uvicorn handles itself
    # uvicorn re-raises the signal after its shutdown, which the command line reports as 130; a
    # signal that came in while it was shutting down is not re-raised, hence 130 here too
    return 130 if server.started else 1
