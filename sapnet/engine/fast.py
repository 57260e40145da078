"""Fast SAPNet inference on the CPU, ONNX export and ONNX Runtime, and the training speed helper.

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
512-wide image, plus the halo its dilation needs) into a preallocated full-size map, with the
element-wise work (ReLU, the residual add, the ConvLSTM gates, concatenation) done on the band
while it is in cache, and the attention's global average pool accumulated from the bands as
they are produced. The pool is still taken over the whole map before the next layer uses it,
so the result is the network's own, not a tiled approximation: the output equals the eager
model's up to float32 rounding (≤ 1e-6 on the official checkpoint). Maps have zero margins
above and below, so a band with its halo is a plain slice; the rows of a layer's input are
formed once, just before the bands that read them (each worker runs a chunk of bands top to
bottom; halo rows in another worker's chunk are formed privately, never written twice).

*One worker per core.* Bands are handed out dynamically to single-threaded workers (Python
threads; the convolutions release the GIL). Each worker runs oneDNN convolutions in
channels-last layout without an OpenMP barrier per operation, which on a busy 2-core machine
costs milliseconds each time the other core is taken by another process.

*Fusion.* The attention gate g = sigmoid(·) > 0 is folded into the next convolution's weights:
conv(relu(c)·g) = conv′(relu(c)) with the input channels of conv′ scaled by g, so relu(c) is
stored once as the convolution's output and no multiply pass remains; a block output
relu(relu(c₂)·g + x) is one addcmul and a ReLU. The four ConvLSTM gate convolutions are one
(the model already stores them so), with the output channels reordered to (i, f, o, g) so the
three sigmoids are one in-place call; the first stage skips the all-zero hidden state. The
feature maps of a shape are kept between calls, so the tiles of a large image reuse them.

See ``benchmarks/inference_speed.py`` for the measured speed-ups, and its notes for what did
not help (NNPACK Winograd, bfloat16, channels-last eager, torch.compile, jit freezing).
"""

from __future__ import annotations

import io
import os
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from sapnet.models.attention import ChannelAttention, ChannelResidualAttention, SqueezeExcitation
from sapnet.models.sapnet import SAPNet

BACKENDS = ("auto", "eager", "fast", "onnxruntime")
# pixels per band: 32 rows of a 512-wide image (2 MiB of 32-channel input); tuned on the 2-core
# benchmark machine (4 MiB L2 per core): 8-64 rows were within noise, 4 rows 10 % slower
DEFAULT_BAND_PIXELS = 16384
DEFAULT_LSTM_BAND_PIXELS = 8192


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

def _gate_function(attention: nn.Module) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The per-channel gate (N, C) → (N, C) of an attention block from its pooled input, computed
    with the block's own layers (so exactly as the block computes it); None for no attention."""
    if isinstance(attention, nn.Identity):
        return None
    if isinstance(attention, ChannelResidualAttention):
        def gate(pooled):
            p = pooled[:, :, None, None]
            return torch.sigmoid(attention.excite(torch.relu(attention.squeeze(p))) + attention.residual(p))[:, :, 0, 0]
        return gate
    if isinstance(attention, SqueezeExcitation):
        return lambda pooled: torch.sigmoid(attention.fc2(torch.relu(attention.fc1(pooled))))
    if isinstance(attention, ChannelAttention):
        def gate(pooled):
            p = pooled[:, :, None, None]
            return torch.sigmoid(attention.excite(torch.relu(attention.squeeze(p))))[:, :, 0, 0]
        return gate
    raise TypeError(f"the fast engine does not know the attention block {type(attention).__name__}")


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
                _gate_function(attention)
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
            (_Conv(b.conv1), _gate_function(b.att1), _Conv(b.conv2), _gate_function(b.att2)) for b in model.blocks
        ]
        self.decoder = _Conv(model.decoder)
        self._maps: dict | None = None
        self._maps_key = None
        self._lock = threading.Lock()  # one forward at a time: the maps are shared

    # -- buffers ------------------------------------------------------------------------------
    def _buffers(self, n: int, h: int, w: int) -> dict:
        """Full-size NHWC maps, kept for the next call of the same size. "Padded" maps have
        ``margin`` zero rows above and below, so a band's vertical halo is a plain slice."""
        key = (n, h, w)
        if self._maps_key != key:
            self._maps = None  # free the old ones first
            c, m = self.channels, self.margin
            padded = lambda ch: torch.zeros(n, h + 2 * m, w, ch)  # noqa: E731
            plain = lambda ch: torch.empty(n, h, w, ch)  # noqa: E731
            self._maps = {
                "input": padded(6),  # rainy image and current estimate: the encoder's input
                "cell": plain(c),
                "hidden": [padded(c), padded(c)],
                "x": [padded(c), padded(c)],  # block outputs
                "gated": padded(c),  # relu(conv1): the second convolution's input (gate in its weights)
                "conv": [None, plain(c)],  # relu(conv2)
            }
            self._maps_key = key
        return self._maps

    def release(self) -> None:
        """Free the feature maps kept for the last image size."""
        self._maps = self._maps_key = None

    def _chunks(self, n: int, h: int) -> list[tuple[int, int, int]]:
        """(image, first row, end row): each worker runs a chunk's bands top to bottom, so the
        input of a layer is formed once per row (and the halo rows are still in cache)."""
        per_image = max(1, min(h // 16, -(-2 * self.workers // n))) if self.workers > 1 else 1
        step = -(-h // per_image)
        return [(i, top, min(top + step, h)) for i in range(n) for top in range(0, h, step)]

    @staticmethod
    def _rows(w: int, pixels: int) -> int:
        return max(1, pixels // w)

    def _run(self, fn: Callable, tasks: list) -> list:
        if self.workers == 1 or len(tasks) == 1:
            return [fn(task) for task in tasks]
        return _workers(self.workers).map(fn, tasks)

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
        cell, conv, gated = maps["cell"], maps["conv"], maps["gated"]
        chunks = self._chunks(n, height)
        rows_lstm = self._rows(width, self.lstm_band_pixels)
        rows_conv = self._rows(width, self.band_pixels)

        def gates_of(partials: list, gate_fn) -> torch.Tensor | None:
            if gate_fn is None:
                return None
            sums = torch.zeros(n, c, dtype=torch.float64)
            for image, partial in partials:
                if partial is not None:
                    sums[image] += partial
            return gate_fn((sums / (height * width)).float()).contiguous()

        def form(source, gate, residual, view, i, lo, hi):
            """Rows lo…hi of a block output into ``view``: relu(relu(conv2) × gate + block input),
            which is the model's relu(relu(att2(conv2)) + x) since the gate is positive; ``source``
            holds relu(conv2)."""
            if gate is None:
                torch.add(source[i: i + 1, lo:hi], residual[i: i + 1, m + lo: m + hi], out=view)
            else:
                torch.addcmul(residual[i: i + 1, m + lo: m + hi], source[i: i + 1, lo:hi], gate[i], out=view)
            view.relu_()

        def conv_chunk(task, conv_op, weights, residual_input, padded_in, target, pooled, decoder=False):
            """Convolve rows top…end of image i band by band, then store relu(output) in ``target``
            (the pooled sum of the output before the ReLU is returned), or for the decoder
            output + rainy. With ``residual_input`` = (relu(conv2), gate, block input) the input
            rows are formed into ``padded_in`` on the way, just before the bands that read them;
            halo rows of neighbouring chunks (another worker's) are formed privately into a
            scratch band, so no row is written by two workers."""
            i, top, end = task
            d = conv_op.dilation
            weight = None if weights is None else weights[i]
            formed = top
            total = None
            for r0 in range(top, end, rows_conv):
                r1 = min(r0 + rows_conv, end)
                lo, hi = r0 - d, r1 + d
                band = padded_in[i: i + 1, m + lo: m + hi]
                if residual_input is not None:
                    source, gate, residual = residual_input
                    need = min(hi, end)
                    if need > formed:
                        form(source, gate, residual, padded_in[i: i + 1, m + formed: m + need], i, formed, need)
                        formed = need
                    if (lo < top and top > 0) or (hi > end and end < height):
                        band = _scratch(2, (1, hi - lo, width, c))
                        own_lo, own_hi = max(lo, top), min(hi, end)
                        band[:, own_lo - lo: own_hi - lo] = padded_in[i: i + 1, m + own_lo: m + own_hi]
                        for a, b in ((lo, own_lo), (own_hi, hi)):  # the halo outside the chunk
                            ia, ib = max(a, 0), min(b, height)
                            if a < ia:
                                band[:, a - lo: min(ia, b) - lo].zero_()
                            if ib < b:
                                band[:, max(ib, a) - lo: b - lo].zero_()
                            if ib > ia:
                                form(source, gate, residual, band[:, ia - lo: ib - lo], i, ia, ib)
                out = conv_op(band, weight)
                if decoder:  # + rainy → the next estimate
                    torch.add(out, rgb[i: i + 1, r0:r1], out=target[i: i + 1, r0:r1])
                    continue
                if pooled:
                    part = out.sum(dim=(0, 1, 2), dtype=torch.float32)
                    total = part if total is None else total.add_(part)
                off = m if target.shape[1] > height else 0
                torch.clamp_min(out, 0, out=target[i: i + 1, off + r0: off + r1])
            return i, total

        def lstm_chunk(task, h_old, h_new, first):
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
                torch.mul(og, torch.tanh(cell_band), out=h_new[i: i + 1, m + r0: m + r1])

        def scaled(conv_op, gate):
            """conv(relu(x) × gate) = conv with the weights' input channels scaled by the gate."""
            if gate is None:
                return None
            return [(conv_op.weight * g[None, :, None, None]).contiguous() for g in gate]

        for stage in range(self.config.stages):
            h_old, h_new = maps["hidden"][stage % 2], maps["hidden"][(stage + 1) % 2]
            self._run(lambda t: lstm_chunk(t, h_old, h_new, stage == 0), chunks)

            # the first block reads h as it is; each later block forms the previous block's output
            # relu(relu(att2(conv2)) + x) while reading it for its first convolution
            residual_input, x_in, x_slot = None, h_new, 0
            for conv1, gate1_fn, conv2, gate2_fn in self.blocks:
                if residual_input is not None:
                    x_in = maps["x"][x_slot]
                    x_slot = 1 - x_slot
                partials = self._run(
                    lambda t: conv_chunk(t, conv1, None, residual_input, x_in, gated, gate1_fn is not None), chunks
                )
                weights2 = scaled(conv2, gates_of(partials, gate1_fn))
                partials = self._run(
                    lambda t: conv_chunk(t, conv2, weights2, None, gated, conv[1], gate2_fn is not None), chunks
                )
                residual_input = (conv[1], gates_of(partials, gate2_fn), x_in)

            self._run(
                lambda t: conv_chunk(t, self.decoder, None, residual_input, maps["x"][x_slot], estimate, False, True),
                chunks,
            )
        return estimate.permute(0, 3, 1, 2).contiguous().to(rainy.dtype)


# --------------------------------------------------------------------------------------------
# ONNX export and ONNX Runtime
# --------------------------------------------------------------------------------------------

ONNX_INPUT, ONNX_OUTPUT = "rainy", "derained"
DEFAULT_OPSET = 17


class _ExportWrapper(nn.Module):
    """The network as exported: (N, 3, H, W) → final estimate, no options."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, rainy: torch.Tensor) -> torch.Tensor:
        return self.model(rainy)


def export_onnx(model: nn.Module, target: str | os.PathLike | io.BytesIO, opset: int = DEFAULT_OPSET) -> None:
    """Write ``model`` as ONNX with dynamic batch, height and width (input ``rainy``, output
    ``derained``, float32 NCHW, unclamped like the PyTorch model).

    Uses the TorchScript-based exporter, which needs nothing beyond torch and onnx (the dynamo
    exporter needs the onnxscript package); the six stages are unrolled into one graph.
    """
    model = model.float().cpu().eval()
    example = torch.rand(1, 3, 64, 48)
    axes = {0: "batch", 2: "height", 3: "width"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and exporter deprecation warnings
        torch.onnx.export(
            _ExportWrapper(model), (example,), target if isinstance(target, io.BytesIO) else str(target),
            input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
            dynamic_axes={ONNX_INPUT: axes, ONNX_OUTPUT: axes}, opset_version=opset, dynamo=False,
        )


def onnxruntime_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class OnnxRunner:
    """Runs an exported SAPNet (a path, ONNX bytes, or a model exported on the fly) with ONNX
    Runtime's CPU provider; called like the model on (N, 3, H, W) CPU tensors."""

    def __init__(self, source: nn.Module | str | os.PathLike | bytes, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise RuntimeError("the onnxruntime backend needs the onnxruntime package: pip install onnxruntime") from None
        if isinstance(source, nn.Module):
            buffer = io.BytesIO()
            export_onnx(source, buffer)
            source = buffer.getvalue()
        elif not isinstance(source, bytes):
            source = str(source)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.device = torch.device("cpu")

    def __call__(self, rainy: torch.Tensor) -> torch.Tensor:
        array = rainy.detach().to("cpu", torch.float32).contiguous().numpy()
        return torch.from_numpy(self.session.run([ONNX_OUTPUT], {ONNX_INPUT: array})[0])


# --------------------------------------------------------------------------------------------
# picking a backend
# --------------------------------------------------------------------------------------------

def resolve_backend(model: nn.Module, backend: str = "auto") -> str:
    """The backend ``auto`` means for ``model``: the fast engine for float32 SAPNets on the CPU
    (it measured fastest, see benchmarks/inference_speed.py), else the eager model."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend != "auto":
        return backend
    return "fast" if fast_support(model) is None else "eager"


def make_runner(model: nn.Module, backend: str = "auto") -> Callable[[torch.Tensor], torch.Tensor]:
    """A callable (N, 3, H, W) → unclamped estimate for ``backend`` (see :data:`BACKENDS`), with a
    ``device`` attribute; ``eager`` returns the model itself."""
    backend = resolve_backend(model, backend)
    if backend == "eager":
        return model
    if backend == "fast":
        return FastSAPNet(model)
    device = next(model.parameters()).device
    if device.type != "cpu":
        raise ValueError(f"the onnxruntime backend runs on the CPU; the model is on {device}")
    return OnnxRunner(model)


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------

def prepare_for_training(model: nn.Module) -> nn.Module:
    """The module a trainer should call for its training steps: ``model`` itself (same parameter
    objects, so an optimiser built before stays valid), in the layout that trains faster.

    Measured with benchmarks/inference_speed.py (batch 12×3×100×100, forward + L1 loss +
    backward + Adam): on an H100, channels-last 1.18× faster than NCHW (torch.compile 1.13× after
    a 40 s compile), so CUDA models are converted to channels-last; on the 2-core CPU, NCHW
    eager was fastest (channels-last several times slower in oneDNN's backward pass), so CPU
    models are left as they are.
    """
    try:
        device = next(model.parameters()).device
    except StopIteration:
        return model
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)  # in place: the parameters stay the same objects
    return model
