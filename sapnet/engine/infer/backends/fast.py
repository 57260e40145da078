"""The fast backend: SAPNet inference on the CPU, exact, about 3× the eager forward.

Why the plain forward is slow
-----------------------------
SAPNet is small (0.18 M parameters) but runs 6 stages × 12 convolutions over full-resolution
32-channel feature maps (32 MiB each at 512×512), and every convolution is followed by several
element-wise operations (attention gate, ReLU, residual add, the ConvLSTM gates), each of
which streams a whole map through memory again and allocates a fresh 32 MiB result. glibc
serves allocations that large with ``mmap``, so every one of them is page-faulted in anew:
on the 2-core machine of the benchmark a ReLU over one map takes ~15 ms, as long as a sixth of
a convolution.

What :class:`FastSAPNet` does instead
-------------------------------------
*Per-layer row-band tiling.* Each convolution layer is computed band by band (32 rows of a
512-wide image, plus the halo its dilation needs) into a preallocated full-size map, and the
element-wise work that follows it (ReLU, attention gate, the residual add, the ConvLSTM gates)
is done on the band while it is in cache. Maps have zero margins above and below, so a band
with its halo is a plain slice of the map a previous layer wrote.

*Exact global pools, computed ahead.* The attention gates depend on global average pools of
convolution outputs, which is why a network like this cannot simply be run tile by tile. Here
the pool of conv(x) is computed *before* the convolution, from per-row channel sums of x
recorded while x was written: the sum of a convolution over all pixels is, per tap, the tap's
weights times the sum of x over the image shifted by the tap's offset (zero padding), i.e. row
sums minus the first/last d columns, over all rows but the first/last d. So every gate is
known before the layer that applies it runs; nothing is approximated, and the output equals
the eager model's up to float32 rounding (≤ 1e-6 on the official checkpoint). It also lets a
residual block finish inside its second convolution's pass: relu(relu(att2(c₂)) + x) is
formed on the band and stored as the next block's input, with its row sums.

*One worker per core.* Bands are handed out dynamically to single-threaded workers (Python
threads; the convolutions release the GIL). Each worker runs oneDNN convolutions in
channels-last layout without an OpenMP barrier per operation, which on a busy 2-core machine
costs milliseconds each time the other core is taken by another process.

*Fusion.* The first attention gate g = sigmoid(·) > 0 of a block is folded into the second
convolution's weights: conv(relu(c)·g) = conv′(relu(c)) with the input channels of conv′ scaled
by g, so relu(c₁) is stored once and no multiply pass remains; a block output
relu(relu(c₂)·g₂ + x) is a ReLU, an addcmul and a ReLU on the band. The four ConvLSTM gate
convolutions are one (the model already stores them so), with the output channels reordered
to (i, f, o, g) so the three sigmoids are one in-place call; the first stage skips the
all-zero hidden state. The feature maps of a shape are kept between calls, so the tiles of a
large image reuse them.

See ``benchmarks/inference_speed.py`` for the measured speed-ups, and its notes for what did
not help (NNPACK Winograd, bfloat16, channels-last eager, torch.compile, jit freezing).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sapnet.engine.infer.tiling import FAST_MAX_PIXELS
from sapnet.models.sapnet import SAPNet

# pixels per band: 32 rows of a 512-wide image (2 MiB of 32-channel input); tuned on the 2-core
# benchmark machine (4 MiB L2 per core): 8-64 rows were within noise, 4 rows 10 % slower
DEFAULT_BAND_PIXELS = 16384
DEFAULT_LSTM_BAND_PIXELS = 8192
DEFAULT_CHUNKS_PER_WORKER = 4


# --------------------------------------------------------------------------------------------
# workers
# --------------------------------------------------------------------------------------------

def _single_threaded() -> None:
    torch.set_num_threads(1)


class _Workers:
    """A pool of single-threaded torch workers; tasks are pulled dynamically for load balance."""

    def __init__(self, count: int) -> None:
        self.count = count
        saved = torch.get_num_threads()
        self.executor = ThreadPoolExecutor(count, thread_name_prefix="sapnet-fast", initializer=_single_threaded)
        barrier = threading.Barrier(count)

        def wait(_):
            try:
                barrier.wait(timeout=30)
            except threading.BrokenBarrierError:
                pass

        list(self.executor.map(wait, range(count)))  # start every thread now
        torch.set_num_threads(saved)  # set_num_threads(1) in a worker also sets the process default

    def map(self, fn: Callable, tasks: list) -> list:
        def call(task):
            with torch.inference_mode():  # thread-local, like grad mode
                return fn(task)

        return list(self.executor.map(call, tasks))


_POOLS: dict[int, _Workers] = {}
_POOLS_LOCK = threading.Lock()


def _workers(count: int) -> _Workers:
    with _POOLS_LOCK:
        if count not in _POOLS:
            _POOLS[count] = _Workers(count)
        return _POOLS[count]


_LOCAL = threading.local()


def _scratch(slot: int, shape: tuple[int, ...]) -> torch.Tensor:
    """A per-thread reusable buffer (no allocation, no page faults after the first use)."""
    store = getattr(_LOCAL, "store", None)
    if store is None:
        store = _LOCAL.store = {}
    numel = 1
    for size in shape:
        numel *= size
    flat = store.get(slot)
    if flat is None or flat.numel() < numel:
        flat = store[slot] = torch.empty(numel)
    return flat[:numel].view(shape)


# --------------------------------------------------------------------------------------------
# the fast engine
# --------------------------------------------------------------------------------------------

def _gate_of(attention: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The block's own per-channel gate (N, C) → (N, C) from its pooled input (None: no attention)."""
    if not hasattr(attention, "gate"):
        raise TypeError(f"the fast engine needs attention blocks with a gate(); {type(attention).__name__} has none")
    return attention.gate


def fast_support(model: nn.Module) -> str | None:
    """Why :class:`FastSAPNet` cannot run ``model`` (None when it can)."""
    if not isinstance(model, SAPNet):
        return f"not a SAPNet ({type(model).__name__})"
    try:
        parameter = next(model.parameters())
    except StopIteration:
        return "the model has no parameters"
    if parameter.device.type != "cpu":
        return f"the fast engine runs on the CPU; the model is on {parameter.device}"
    if parameter.dtype != torch.float32:
        return f"the fast engine runs float32 models; this one is {parameter.dtype}"
    for block in model.blocks:
        for attention in (block.att1, block.att2):
            try:
                _gate_of(attention)
            except TypeError as error:
                return str(error)
    return None


def _mkldnn_usable() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch, "mkldnn_convolution")


class _Conv:
    """A 3×3 convolution over NHWC row bands that already hold the vertical halo."""

    __slots__ = ("weight", "bias", "dilation", "mkldnn")

    def __init__(self, conv: nn.Conv2d, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None) -> None:
        self.weight = (conv.weight if weight is None else weight).detach().float().contiguous()
        bias = conv.bias if bias is None else bias
        self.bias = None if bias is None else bias.detach().float().contiguous()
        self.dilation = conv.dilation[0]
        self.mkldnn = _mkldnn_usable()

    def __call__(self, band: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
        """(1, R + 2d, W, Cin) → (1, R, W, Cout); the rows of ``band`` outside the image are zero."""
        weight = self.weight if weight is None else weight
        d = self.dilation
        x = band.permute(0, 3, 1, 2)  # NCHW view, channels-last in memory
        if self.mkldnn:  # oneDNN directly: F.conv2d would pick a slower kernel for thin bands
            out = torch.mkldnn_convolution(x, weight, self.bias, [0, d], [1, 1], [d, d], 1)
        else:
            out = F.conv2d(x, weight, self.bias, padding=(0, d), dilation=d)
        return out.permute(0, 2, 3, 1)


class FastSAPNet:
    """SAPNet inference computed layer by layer in cache-sized row bands (see the module notes).

    ``FastSAPNet(model)(rainy)`` equals ``model(rainy)`` up to float32 rounding, for every
    configuration (attention, dilation, stages, channels). The weights are copied when the
    engine is built: rebuild it after changing the model. ``workers`` defaults to
    ``torch.get_num_threads()``; a convolution is computed in row bands of about
    ``band_pixels`` pixels (``lstm_band_pixels`` for the wider ConvLSTM convolution).
    """

    name = "fast"
    max_pixels = FAST_MAX_PIXELS  # it keeps about half the eager model's memory per pixel

    def __init__(
        self, model: SAPNet, workers: int | None = None, band_pixels: int = DEFAULT_BAND_PIXELS,
        lstm_band_pixels: int = DEFAULT_LSTM_BAND_PIXELS,
    ) -> None:
        reason = fast_support(model)
        if reason is not None:
            raise ValueError(f"FastSAPNet cannot run this model: {reason}")
        self.config = model.config
        self.device = torch.device("cpu")
        self.workers = max(1, workers or torch.get_num_threads())
        self.band_pixels = band_pixels
        self.lstm_band_pixels = lstm_band_pixels
        self.chunks_per_worker = DEFAULT_CHUNKS_PER_WORKER
        c = model.config.channels
        self.channels = c
        self.margin = max(model.config.dilations + (2,))  # zero rows above and below each map
        self.encoder = _Conv(model.encoder)
        # gate order (i, f, g, o) → (i, f, o, g): one in-place sigmoid over the first three
        i, f, g, o = model.lstm.gates.weight.detach().chunk(4, dim=0)
        bi, bf, bg, bo = model.lstm.gates.bias.detach().chunk(4, dim=0)
        self.gates = _Conv(model.lstm.gates, torch.cat((i, f, o, g)), torch.cat((bi, bf, bo, bg)))
        self.gates_x_only = self.gates.weight[:, :c].contiguous()  # stage 1: the hidden state is zero
        self.blocks = [
            (_Conv(b.conv1), _gate_of(b.att1), _Conv(b.conv2), _gate_of(b.att2)) for b in model.blocks
        ]
        self.decoder = _Conv(model.decoder)
        self._maps: dict | None = None
        self._maps_key = None
        self._lock = threading.Lock()  # one forward at a time: the maps are shared

    # -- buffers ------------------------------------------------------------------------------
    def _buffers(self, n: int, h: int, w: int) -> dict:
        """Full-size NHWC maps, kept for the next call of the same size. Maps a convolution reads
        have ``margin`` zero rows above and below, so a band with its halo is a plain slice."""
        key = (n, h, w)
        if self._maps_key != key:
            self._maps = None  # free the old ones first
            c, m = self.channels, self.margin
            padded = lambda ch: torch.zeros(n, h + 2 * m, w, ch)  # noqa: E731
            self._maps = {
                "input": padded(6),  # rainy image and current estimate: the encoder's input
                "cell": torch.empty(n, h, w, c),
                "hidden": [padded(c), padded(c)],
                "x": [padded(c), padded(c)],  # block outputs
                "gated": padded(c),  # relu(conv1): the second convolution's input (gate in its weights)
                # per-row channel sums of a map (all columns, first d, last d columns): the pools
                "stats": [torch.empty(3, n, h, c) for _ in range(2)],
            }
            self._maps_key = key
        return self._maps

    def release(self) -> None:
        """Free the feature maps kept for the last image size."""
        self._maps = self._maps_key = None

    def _chunks(self, n: int, h: int, rows: int) -> list[tuple[int, int, int]]:
        """(image, first row, end row): the tasks of one pass, handed to whichever worker is
        free; about ``chunks_per_worker`` per worker (whole bands of ``rows``) for load balance."""
        if self.workers == 1:
            return [(i, 0, h) for i in range(n)]
        per_image = max(1, -(-self.chunks_per_worker * self.workers // n))
        step = -(-h // per_image)
        step = -(-step // rows) * rows  # whole bands
        return [(i, top, min(top + step, h)) for i in range(n) for top in range(0, h, step)]

    @staticmethod
    def _rows(w: int, pixels: int) -> int:
        return max(1, pixels // w)

    def _run(self, fn: Callable, tasks: list) -> None:
        if self.workers == 1 or len(tasks) == 1:
            for task in tasks:
                fn(task)
        else:
            _workers(self.workers).map(fn, tasks)

    @staticmethod
    def _pooled_output(stats: torch.Tensor, weights: list[torch.Tensor], bias: torch.Tensor | None, d: int,
                       height: int, width: int) -> torch.Tensor:
        """The global average pool (N, Cout) of conv(map) from the map's row sums, without the
        convolution's output: the sum of a convolution over all pixels is, for each tap, the
        tap's weights times the sum of the input over the image shifted by the tap's offset
        (zero padding), and those shifted sums are row sums minus the first or last d columns,
        over all rows but the first or last d. ``weights`` holds one weight tensor per image."""
        whole, first, last = (s.double() for s in stats)  # (N, H, C) each
        columns = {0: whole, 1: whole - last, -1: whole - first}  # tap offset sign → row sums over the columns read
        pooled = []
        for i, weight in enumerate(weights):
            shifted = torch.zeros(weight.shape[1], 3, 3, dtype=torch.float64)
            for ky in range(3):
                dy = (ky - 1) * d
                top, bottom = max(0, dy), min(height, height + dy)
                if bottom <= top:
                    continue
                for kx in range(3):
                    # tap (ky, kx) reads input column x + dx for output x: columns dx… W+dx
                    dx = (kx - 1) * d
                    sign = 0 if dx == 0 else (1 if dx < 0 else -1)
                    if abs(dx) >= width:
                        continue
                    shifted[:, ky, kx] = columns[sign][i, top:bottom].sum(dim=0)
            total = torch.einsum("oikl,ikl->o", weight.double(), shifted) / (height * width)
            pooled.append(total + (0 if bias is None else bias.double()))
        return torch.stack(pooled).float()

    # -- forward ------------------------------------------------------------------------------
    def __call__(self, rainy: torch.Tensor) -> torch.Tensor:
        """The final estimate for (N, 3, H, W) images, unclamped, like ``model(rainy)``."""
        if rainy.dim() != 4 or rainy.shape[1] != 3:
            raise ValueError(f"expected an (N, 3, H, W) tensor, got shape {tuple(rainy.shape)}")
        with self._lock, torch.inference_mode():
            return self._forward(rainy)

    def _forward(self, rainy: torch.Tensor) -> torch.Tensor:
        n, _, height, width = rainy.shape
        maps = self._buffers(n, height, width)
        c, m = self.channels, self.margin
        inputs = maps["input"]
        rgb = rainy.detach().to("cpu", torch.float32).permute(0, 2, 3, 1)
        inputs[:, m: m + height, :, :3] = rgb
        inputs[:, m: m + height, :, 3:] = rgb
        rgb = inputs[:, m: m + height, :, :3]
        estimate = inputs[:, m: m + height, :, 3:]
        cell, gated = maps["cell"], maps["gated"]
        rows_lstm = self._rows(width, self.lstm_band_pixels)
        rows_conv = self._rows(width, self.band_pixels)
        chunks = self._chunks(n, height, max(rows_conv, rows_lstm))

        def record(stats, d, values, i, r0, r1):
            """Row sums of rows r0…r1 of a map just written (still in cache), for the pool of
            the convolution with dilation ``d`` that reads it."""
            if stats is None:
                return
            edge = min(d, width)
            torch.sum(values, dim=2, out=stats[0, i: i + 1, r0:r1])
            torch.sum(values[:, :, :edge], dim=2, out=stats[1, i: i + 1, r0:r1])
            torch.sum(values[:, :, width - edge:], dim=2, out=stats[2, i: i + 1, r0:r1])

        def conv_chunk(task, conv_op, weights, padded_in, kind, target, stats=None, next_d=0, gate=None, residual=None):
            """Convolve rows top…end of image i band by band; store relu(output) (``relu``), the
            block output relu(relu(output)·gate + residual) (``residual``), or output + rainy
            (``decoder``) into ``target``, and the row sums of what was stored into ``stats``."""
            i, top, end = task
            d = conv_op.dilation
            weight = None if weights is None else weights[i]
            for r0 in range(top, end, rows_conv):
                r1 = min(r0 + rows_conv, end)
                out = conv_op(padded_in[i: i + 1, m + r0 - d: m + r1 + d], weight)
                if kind == "decoder":
                    torch.add(out, rgb[i: i + 1, r0:r1], out=target[i: i + 1, r0:r1])
                    continue
                rows = target[i: i + 1, m + r0: m + r1]
                if kind == "relu":
                    torch.clamp_min(out, 0, out=rows)
                else:  # relu(relu(c)·g + x) is the model's relu(relu(att(c)) + x), the gate being positive
                    out.relu_()
                    x = residual[i: i + 1, m + r0: m + r1]
                    if gate is None:
                        torch.add(out, x, out=rows)
                    else:
                        torch.addcmul(x, out, gate[i], out=rows)
                    rows.relu_()
                record(stats, next_d, rows, i, r0, r1)

        def lstm_chunk(task, h_old, h_new, first, stats, next_d):
            i, top, end = task
            for r0 in range(top, end, rows_lstm):
                r1 = min(r0 + rows_lstm, end)
                rows = r1 - r0
                x = self.encoder(inputs[i: i + 1, m + r0 - 2: m + r1 + 2])  # rows r0-1 … r1
                if first:
                    lstm_in = _scratch(1, (1, rows + 2, width, c))
                    torch.clamp_min(x, 0, out=lstm_in)
                else:
                    lstm_in = _scratch(1, (1, rows + 2, width, 2 * c))
                    torch.clamp_min(x, 0, out=lstm_in[..., :c])
                    lstm_in[..., c:] = h_old[i: i + 1, m + r0 - 1: m + r1 + 1]
                if r0 == 0:  # the encoder output is zero-padded for the LSTM convolution
                    lstm_in[:, 0, :, :c].zero_()
                if r1 == height:
                    lstm_in[:, -1, :, :c].zero_()
                gates = self.gates(lstm_in, self.gates_x_only if first else None).contiguous()
                gates[..., : 3 * c].sigmoid_()
                gates[..., 3 * c:].tanh_()
                ig, fg, og, gg = (gates[..., k * c: (k + 1) * c] for k in range(4))
                cell_band = cell[i: i + 1, r0:r1]
                if first:  # sigmoid(f)·0 + sigmoid(i)·tanh(g)
                    torch.mul(ig, gg, out=cell_band)
                else:  # sigmoid(f)·c + sigmoid(i)·tanh(g), in the eager model's order of operations
                    cell_band.mul_(fg)
                    cell_band.add_(ig.mul_(gg))
                h_rows = h_new[i: i + 1, m + r0: m + r1]
                torch.mul(og, torch.tanh(cell_band), out=h_rows)
                record(stats, next_d, h_rows, i, r0, r1)

        def gate_of(gate_fn, stats, weights, conv_op):
            if gate_fn is None:
                return None
            weights = weights or [conv_op.weight] * n
            pooled = self._pooled_output(stats, weights, conv_op.bias, conv_op.dilation, height, width)
            return gate_fn(pooled).contiguous()

        blocks = self.blocks
        stats_x, stats_p = maps["stats"]
        for stage in range(self.config.stages):
            h_old, h_new = maps["hidden"][stage % 2], maps["hidden"][(stage + 1) % 2]
            first_needs = blocks[0][1] is not None
            self._run(
                lambda t: lstm_chunk(t, h_old, h_new, stage == 0, stats_x if first_needs else None, blocks[0][0].dilation),
                chunks,
            )
            x_in = h_new
            for k, (conv1, gate1_fn, conv2, gate2_fn) in enumerate(blocks):
                gate1 = gate_of(gate1_fn, stats_x, None, conv1)  # att1's gate, before conv1 runs
                self._run(
                    lambda t: conv_chunk(t, conv1, None, x_in, "relu", gated, stats_p if gate2_fn else None, conv2.dilation),
                    chunks,
                )
                # conv2(relu(conv1)·g1) = conv2 with its input channels scaled by g1
                weights2 = None if gate1 is None else [(conv2.weight * g[None, :, None, None]).contiguous() for g in gate1]
                gate2 = gate_of(gate2_fn, stats_p, weights2, conv2)
                x_out = maps["x"][k % 2]
                next_gate = k + 1 < len(blocks) and blocks[k + 1][1] is not None
                next_d = blocks[k + 1][0].dilation if k + 1 < len(blocks) else 1
                self._run(
                    lambda t: conv_chunk(
                        t, conv2, weights2, gated, "residual", x_out, stats_x if next_gate else None, next_d, gate2, x_in
                    ),
                    chunks,
                )
                x_in = x_out
            self._run(lambda t: conv_chunk(t, self.decoder, None, x_in, "decoder", estimate), chunks)
        return estimate.permute(0, 3, 1, 2).contiguous().to(rainy.dtype)
