"""SAPNet inference speed: the plain eager forward against the paths that
``sapnet derain`` uses, on the same machine in one run.

    python benchmarks/inference_speed.py                       # 512×512 and 1920×1080, CPU
    python benchmarks/inference_speed.py --sizes 512x512 --repeats 5 --json results.json
    python benchmarks/inference_speed.py --device cuda --dtype bfloat16   # on a GPU

Paths (``--paths``, default ``reference,eager,derain,onnxruntime``):

1. ``reference``   the network as the paper describes it and its reference code computes it,
                   plain float32 NCHW PyTorch forward: the baseline. That is ``SAPNet`` with its
                   ConvLSTM laid out as in the official code, four gate convolutions
                   (``sapnet.models.reference``); always timed.
   ``eager``       this package's ``SAPNet`` module, plain float32 NCHW: the same but with the
                   four gates fused into one convolution.
2. ``derain``      what ``sapnet derain`` runs: ``DerainModel.derain`` with the ``auto`` backend (the
                   fast CPU engine of ``sapnet.engine.infer.backends.fast``, eager on a GPU) inside
                   ``derain_tensor`` with its default tiling and clamping; on a GPU with
                   ``--dtype`` bfloat16/float16 the model runs in that precision.
3. ``onnxruntime`` the ONNX export (``sapnet export``) run by ONNX Runtime's CPU provider.

Extra paths for the record: ``channels_last`` (eager, channels-last), ``jit`` (torch.jit.trace +
freeze + optimize_for_inference: oneDNN prepacked convolutions with fused ReLU), ``compile``
(torch.compile, Inductor; compile time reported), ``lowp`` (eager in ``--dtype``, channels-last).

The paths are timed in one process, interleaved (A, B, C, A, B, C, …: load from other processes
drifting over the run hits every path alike): one warm-up call, then the median of
``--repeats`` timed calls. Reported per path and size: median latency, speed-up over path 1,
max abs difference from path 1 (``derain`` is compared with path 1 clamped to [0, 1], as it
clamps), achieved GFLOP/s (nominal network FLOPs / latency), that figure as a fraction of the
float32 ``torch.mm`` throughput measured in the same run (before and after), and peak memory
of a fresh process running the path once (peak RSS from VmHWM, and its growth over the loaded
model; GPU: peak allocated). Then the peak memory of ``sapnet derain`` on a 12-megapixel image
(``--memory-megapixels``). Training steps are timed by ``benchmarks/training_speed.py``.

Measured (2026-11-25; JSON and tables in benchmarks/results/)
------------------------------------------------------------
Latest, the default sizes (``--repeats 3``; then with the training steps that are now
``benchmarks/training_speed.py``), the machine otherwise idle
(torch.mm 385 → 361 GFLOP/s), ``inference_speed_cpu_2core.txt``:

    size       path         median s  speed-up  max|Δ|   GFLOP/s  peak RSS (above loaded)
    512x512    reference     7.14      1.00×     —         74      955 MB (430)
    512x512    eager         6.85      1.04×     0         77      987 MB (463)
    512x512    derain/fast   2.30      3.10×     2.4e-07  230      787 MB (262)
    512x512    onnxruntime   2.40      2.98×     3.6e-07  221     1151 MB (533)
    1920x1080  reference    61.7       1.00×     —         68     3673 MB (3126)
    1920x1080  eager        55.5       1.11×     0         76     3929 MB (3383)
    1920x1080  derain/fast  20.0       3.09×     5.4e-07  210     2213 MB (1667)
    1920x1080  onnxruntime  23.4       2.64×     1.7e-06  179     3822 MB (3183)
    4000x3000  derain (tiled, as sapnet derain does): 167 s, peak RSS 1231 MB (572 above)

A 512×512-only run before it (5 repeats, idle): reference 7.18 s, eager 6.75 s, fast 2.35 s
(3.05×), ONNX Runtime 2.46 s.

Earlier (before the ``reference`` path existed; its baseline ``eager`` is the fused-gate module),
2-core Xeon (AVX-512, AMX), torch 2.14.1, official checkpoint, 2 threads, other helpers' jobs
running (load average 0.6 → 6; torch.mm fell from 381 to 232 GFLOP/s during the run, so the
absolute times are noisy; the interleaving keeps the ratios fair):

    size       path         median s  speed-up  max|Δ|   GFLOP/s  peak RSS (above loaded)
    512x512    eager         6.87      1.00×     —         77      989 MB (465)
    512x512    derain/fast   2.50      2.75×     2.4e-07  212      780 MB (254)
    512x512    onnxruntime   2.59      2.65×     3.6e-07  205     1149 MB (533)
    1920x1080  eager       102.2       1.00×     —         41     3952 MB (3407)
    1920x1080  derain/fast  39.9       2.56×     5.4e-07  105     2213 MB (1667)
    1920x1080  onnxruntime  60.8       1.68×     1.7e-06   69     3820 MB (3183)
    4000x3000  derain (tiled 512², as sapnet derain does): 179 s, peak RSS 1238 MB (578 above)

A second run at 512×512 (quieter, torch.mm 357 GFLOP/s): eager 7.33 s, fast 2.56 s (2.87×),
ONNX Runtime 2.70 s (2.71×), channels-last eager 5.93 s (1.24×), jit trace + freeze +
optimize_for_inference 8.92 s (0.82×). Single cold calls (memory runs): 1920×1080 eager
56.7 s, fast 19.9 s (2.85×), ONNX Runtime 24.0 s. One core alone runs the fast engine at
512×512 in 4.2-4.3 s (its convolutions at ~180 GFLOP/s, ~88 % of a one-core torch.mm);
two workers reach 1.6-1.8× of that with other jobs on the machine. So the target of 3× is
met only in quiet moments, 5× is not: with direct convolutions the floor here is the
convolutions' ~1.5 s, and the issue's 17 s eager figure was measured under load, which hurts
the eager forward (its OpenMP barriers) far more than the engine.

H100 (torch 2.11, random init, the earlier subprocess-per-path version of this script):
eager float32 21 ms at 512×512, 145 ms at 1920×1080; channels-last 18 / 125 ms (1.13-1.16×;
max|Δ| 7e-5 because cuDNN runs float32 convolutions in TF32 by default); bfloat16
channels-last 12 / 80 ms (1.7-1.8×, max|Δ| 6e-3); float16 12 / 79 ms (1.75-1.83×, max|Δ|
8e-4): lower precision is fast but misses the 1e-4 tolerance. ``sapnet derain`` on a GPU is
the eager model and tiles above 1 MP (0.34 s at 1920×1080, max|Δ| 1.3e-3 from tiling).
torch.compile ran 1.5 s per call there (not investigated). (GPU "of mm" can
exceed 100 %: the convolutions run in TF32, the float32 torch.mm reference does not.)

Notes: what helped and what did not
-----------------------------------
Helped, kept in the fast engine (``sapnet/engine/infer/backends/fast.py``):
- Per-layer row-band tiling into preallocated maps, with all element-wise work on the band
  while it is in cache. The plain forward spends ~40 % of its time outside the convolutions:
  ReLU / attention multiply / add each stream a fresh 32 MiB map, and glibc's mmap for such
  allocations makes every one page-fault (a ReLU over one map: ~15 ms).
- Global pools computed ahead from row sums of a convolution's input (exact, see fast.py), so
  each residual block finishes inside its second convolution's pass: one map pass fewer per
  block than pooling the outputs (2.48 vs 2.56 s, A/B).
- One single-threaded worker per core pulling bands, instead of 2 OpenMP threads per
  operation: with other processes on the machine, an OpenMP barrier per small operation made
  band-sized convolutions take 13 ms instead of 1-3 ms (and whole runs 10× slower at times).
- Calling oneDNN (``torch.mkldnn_convolution``) directly in channels-last layout: band-sized
  inputs otherwise fall to PyTorch's slow native convolution (its heuristic sends inputs
  under 20480 elements there). Single-core band convolutions reach 170-195 GFLOP/s (~90 % of a
  single-core ``torch.mm``) against ~110 GFLOP/s on whole 512×512 maps.
- Folding the first attention gate into the second convolution's weights (g = sigmoid(·) > 0,
  so conv(relu(c)·g) = conv with input channels scaled by g), the four ConvLSTM gates as one
  convolution with one in-place sigmoid, skipping the zero hidden state in stage 1.
- Keeping 1920×1080 whole: the fast engine needs ~0.95 kB per pixel (eager ~1.7 kB), so it
  tiles above 2.1 MP instead of 1 MP at the same memory; the 15 overlapping 512² tiles a
  1080p frame took before cost 1.9× the work and were only approximately equal.

Did not help (measured, kept out):
- NNPACK's Winograd F(6×6, 3×3) (``torch._nnpack_spatial_convolution``): 32→32 channels at
  512×512 one thread 58 ms vs oneDNN direct 41 ms, 64→128 equal; 6-8× larger error (1.7e-5 vs
  2.2e-6 per layer). oneDNN in PyTorch exposes no float32 Winograd on x86. A Winograd in
  PyTorch ops (F(2,3); dilated convolutions split into interleaved sub-grids) needs ~30
  element-wise transform ops on 4×-enlarged tensors per band plus 16 small K=32 GEMMs: by
  operation count slower than the direct convolution, so not pursued; it needs a native kernel.
- Lower precision on the CPU: bfloat16 (AMX) max|Δ| ~6e-3, far over 1e-4. A bf16×3 split
  (hi·hi + hi·lo + lo·hi) would need a bf16-in / float32-out convolution, which PyTorch does
  not expose on the CPU (its bf16 convolutions round the output to bf16).
- Prepacked oneDNN weights (``mkldnn._convolution_pointwise``, fused ReLU): same speed as
  ``mkldnn_convolution`` per band (the weight reorder is ~1 % of a band).
- Band height: 8-64 rows at 512 width within noise; 4 rows 10 % slower (2-core machine and
  a 16-core Xeon with 2 MiB L2 alike). Chunks of 1-8 per worker: within noise.
- Channels-last eager (``--paths channels_last``): 1.24× only; the element-wise passes and
  page faults stay. jit trace + freeze + optimize_for_inference (``--paths jit``): 0.82×.
- More workers than cores (3 or 4 on 2 cores): 4 % slower.
- ONNX Runtime (path 3): as fast as the fast engine at 512×512, slower at 1920×1080 (its
  arena took 6 GB there), and it needs an export (3 s) first: ``sapnet derain`` keeps the
  fast engine for ``--backend auto`` and runs ONNX Runtime on request (``--backend
  onnxruntime``, or ``--weights model.onnx`` from ``sapnet export``).
- Fusing conv1 → conv2 depth-first: the second convolution would need the first's halo rows
  recomputed (100 % extra conv1 work for dilation 16 at 32-row bands), more than the memory
  pass it saves.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SAPNET_SHARED", ROOT.parent / "shared"))
OFFICIAL = SHARED / "weights" / "sapnet_official_model11.pth"
TOLERANCE = 1e-4
PATHS = ("reference", "eager", "derain", "onnxruntime", "channels_last", "jit", "compile", "lowp")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def load(weights: str | None, stages: int | None = None):
    """The network of a weights name or checkpoint (as sapnet.load_model reads it), or a random one."""
    from sapnet.hub import load_network
    from sapnet.models import SAPNet

    if weights and weights != "random":
        return load_network(weights, stages=stages), weights
    torch.manual_seed(0)
    return SAPNet(stages=stages or 6).eval(), "random init (seed 0)"


def macs_per_pixel(model) -> float:
    """Multiply-adds per pixel of one forward, by the FLOP counter of ``sapnet efficiency``."""
    from sapnet.engine.evaluate.efficiency import count_flops

    side = 128  # the counter runs on the meta device: no time, no memory; per pixel it is size-free
    return count_flops(model, side, side) / 2 / side**2


def rss_mb() -> float:
    """Current resident memory (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def peak_rss_mb() -> float:
    """Peak resident memory of this process: VmHWM (Linux), which, unlike getrusage's
    ru_maxrss, does not inherit the parent's peak across fork + exec."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, warmup: int, repeats: int) -> tuple[list[float], object]:
    out = None
    for _ in range(warmup):
        out = fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return times, out


def matmul_gflops(device: torch.device, n: int = 4096, repeats: int = 5) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)
    times, _ = timed(lambda: torch.mm(a, b), device, 2, repeats)
    return 2 * n**3 / statistics.median(times) / 1e9


def image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth photo-like image with bright streaks (the model's behaviour on pure noise is
    not representative of its numerical range)."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.interpolate(
        torch.rand(1, 3, max(2, height // 32), max(2, width // 32), generator=g), size=(height, width), mode="bicubic"
    )
    streaks = (torch.rand(1, 1, height, width, generator=g) > 0.99).float() * 0.5
    return (base + streaks).clamp(0, 1)


# --------------------------------------------------------------------------------------------
# the paths
# --------------------------------------------------------------------------------------------

def build_path(path: str, model, device: torch.device, dtype: torch.dtype, rainy: torch.Tensor) -> tuple:
    """(callable, backend text) for one path; the callable runs the path on ``rainy``."""
    import copy

    model = copy.deepcopy(model)
    if path == "reference":
        from sapnet.models.reference import reference_layout

        model = reference_layout(model).to(device)
        x = rainy.to(device)
        return (lambda: model(x)), ""
    if path == "eager":
        model = model.to(device)
        x = rainy.to(device)
        return (lambda: model(x)), ""
    if path == "channels_last":
        model = model.to(device).to(memory_format=torch.channels_last)
        x = rainy.to(device).contiguous(memory_format=torch.channels_last)
        return (lambda: model(x)), ""
    if path == "lowp":
        model = model.to(device, dtype).to(memory_format=torch.channels_last)
        x = rainy.to(device, dtype).contiguous(memory_format=torch.channels_last)
        return (lambda: model(x).float()), str(dtype).replace("torch.", "")
    if path == "derain":
        from sapnet.engine.infer.model import DerainModel
        from sapnet.engine.infer.tiling import derain_tensor

        if dtype != torch.float32 and device.type == "cuda":
            model = model.to(device, dtype)
            x = rainy.to(dtype)
            return (lambda: derain_tensor(model, x).float()), f"eager {str(dtype).replace('torch.', '')}"
        derainer = DerainModel.from_network(model.to(device))  # what `sapnet derain` runs
        return (lambda: derainer.derain(rainy)), derainer.backend_name
    if path == "onnxruntime":
        from sapnet.engine.infer.backends.onnx import OnnxBackend

        runner = OnnxBackend(model)
        return (lambda: runner(rainy)), ""
    if path == "jit":
        with torch.no_grad():
            traced = torch.jit.trace(model, rainy[..., :64, :64], check_trace=False)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
        return (lambda: frozen(rainy)), ""
    if path == "compile":
        compiled = torch.compile(model, dynamic=False)
        return (lambda: compiled(rainy)), ""
    raise ValueError(path)


def measure_size(paths: list[str], model, device, dtype, size, warmup: int, repeats: int) -> list[dict]:
    """Time every path on one image size, interleaved (path A, B, C, A, B, C, …) so that load
    from other processes drifting over the run hits every path alike."""
    rainy = image(*size)
    records, runs = [], []
    for path in paths:
        record = {"path": path, "size": f"{size[1]}x{size[0]}"}
        start = time.perf_counter()
        try:
            fn, record["backend"] = build_path(path, model, device, dtype, rainy)
            record["setup_s"] = time.perf_counter() - start  # export / trace / compile
            with torch.inference_mode():
                first = time.perf_counter()
                fn()
                sync(device)
                record["first_call_s"] = time.perf_counter() - first  # compilation, page faults
                for _ in range(max(0, warmup - 1)):
                    fn()
        except Exception as error:  # a path that cannot run here (no compiler, …) is reported
            record["error"] = f"{error.__class__.__name__}: {str(error).splitlines()[0][:200]}"
            fn = None
        record["times_s"] = []
        records.append(record)
        runs.append(fn)
    outputs: dict[str, np.ndarray] = {}
    with torch.inference_mode():
        for _ in range(repeats):
            for record, fn in zip(records, runs):
                if fn is None:
                    continue
                start = time.perf_counter()
                out = fn()
                sync(device)
                record["times_s"].append(time.perf_counter() - start)
                outputs[record["path"]] = out.detach().float().cpu().numpy()
    reference = outputs.get("reference")
    for record in records:
        if "error" in record:
            continue
        record["median_s"] = statistics.median(record["times_s"])
        if reference is not None and record["path"] != "reference":
            expected = np.clip(reference, 0, 1) if record["path"] == "derain" else reference
            record["max_abs_diff"] = float(np.abs(outputs[record["path"]] - expected).max())
    return records


# --------------------------------------------------------------------------------------------
# peak memory, each in its own process
# --------------------------------------------------------------------------------------------

def memory_child(spec: dict) -> dict:
    """Peak RSS of one call of a path (``derain`` on a large image: tiled as ``sapnet derain`` tiles)."""
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    model, _ = load(spec["weights"], spec.get("stages"))
    height, width = spec["size"]
    rainy = torch.rand(1, 3, height, width)
    fn, _ = build_path(spec["path"], model, device, DTYPES[spec["dtype"]], rainy)
    base = rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    with torch.inference_mode():
        fn()
        sync(device)
    result = {"path": spec["path"], "size": f"{width}x{height}", "seconds": time.perf_counter() - start,
              "peak_rss_mb": peak_rss_mb(), "rss_before_mb": base, "input_mb": rainy.numel() * 4 / 2**20}
    if device.type == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    return result


def run_child(kind: str, spec: dict, timeout: float) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--_child", kind, json.dumps(spec)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": " | ".join(tail) or f"exit code {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------

def parse_size(text: str) -> tuple[int, int]:
    """'WxH' → (height, width)."""
    width, height = (int(v) for v in text.lower().split("x"))
    return height, width


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="512x512,1920x1080", help="comma-separated WxH (default: 512x512,1920x1080)")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per path and size; the median is reported (default 5)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--paths", default="reference,eager,derain,onnxruntime", help=f"comma-separated, from {', '.join(PATHS)}")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="precision of the lowp path, and of derain on a GPU")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads (default: all)")
    parser.add_argument(
        "--weights", default=str(OFFICIAL) if OFFICIAL.exists() else "random",
        help="checkpoint (default: the official one under $SAPNET_SHARED, else 'random' init; same speed)",
    )
    parser.add_argument("--stages", type=int, default=None, help="override the recurrent stages (default 6)")
    parser.add_argument("--memory", choices=["on", "off"], default="on", help="peak memory of each path, one process each (default on)")
    parser.add_argument("--memory-megapixels", type=float, default=12.0, help="image for the derain peak-memory check (0: skip)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per memory measurement before giving up")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child:
        print(json.dumps(memory_child(json.loads(args._child[1]))))
        return 0

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device visible")
    dtype = DTYPES[args.dtype]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    for path in paths:
        if path not in PATHS:
            parser.error(f"unknown path {path!r}; choose from {', '.join(PATHS)}")
    if "reference" not in paths:
        paths.insert(0, "reference")
    if device.type == "cuda" and "onnxruntime" in paths:
        paths.remove("onnxruntime")  # the CPU provider only
    if args.dtype != "float32" and "lowp" not in paths:
        paths.append("lowp")
    torch.set_num_threads(args.threads)
    model, weights_text = load(args.weights, args.stages)
    config = model.config
    load_avg = os.getloadavg() if hasattr(os, "getloadavg") else None

    print(f"SAPNet inference benchmark — {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"torch {torch.__version__}, {args.threads} threads, device {device}, dtype {args.dtype}")
    if device.type == "cuda":
        print(f"GPU: {torch.cuda.get_device_name(device)}")
    print(f"weights: {weights_text}; config {config.to_dict()}; {macs_per_pixel(model) / 1e6:.3f} M multiply-adds per pixel")
    if load_avg:
        print(f"load average at start: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f} (other processes make timings noisy)")
    mm_before = matmul_gflops(device)
    print(f"float32 torch.mm 4096³: {mm_before:.0f} GFLOP/s")

    results: dict = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(), "torch": torch.__version__,
                    "threads": args.threads, "device": str(device), "load_average_start": load_avg},
        "weights": weights_text, "config": config.to_dict(), "dtype": args.dtype, "repeats": args.repeats,
        "warmup": args.warmup, "mm_gflops": [mm_before], "runs": [], "macs_per_pixel": macs_per_pixel(model),
    }
    spec_base = {"threads": args.threads, "device": args.device, "dtype": args.dtype, "weights": args.weights,
                 "stages": args.stages}
    for size_text in args.sizes.split(","):
        size = parse_size(size_text)
        print(f"  timing {', '.join(paths)} at {size_text}, interleaved, {args.repeats} runs each …", flush=True)
        records = measure_size(paths, model, device, dtype, size, args.warmup, args.repeats)
        for record in records:
            if args.memory == "on" and "error" not in record:
                memory = run_child("memory", {**spec_base, "path": record["path"], "size": size}, args.timeout)
                record["memory"] = memory
        results["runs"].extend(records)
    results["mm_gflops"].append(matmul_gflops(device))

    if args.memory_megapixels > 0 and device.type == "cpu":
        side = (args.memory_megapixels * 1e6 / 12) ** 0.5
        size = (int(round(3 * side)), int(round(4 * side)))
        print(f"  memory check: sapnet derain on {size[1]}x{size[0]} …", flush=True)
        results["memory_large"] = run_child("memory", {**spec_base, "path": "derain", "size": size}, args.timeout)

    report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


def report(results: dict) -> None:
    mm = statistics.median(results["mm_gflops"])
    results["mm_gflops_median"] = mm
    print()
    print(f"float32 torch.mm throughput (median of before/after): {mm:.0f} GFLOP/s; tolerance {TOLERANCE:g}")
    header = (f"{'size':>10} {'path':>13} {'backend':>9} {'median s':>9} {'speed-up':>8} {'max|Δ|':>9} "
              f"{'GFLOP/s':>8} {'of mm':>6} {'peak MB':>8} {'+MB':>6}")
    print(header)
    print("-" * len(header))
    baseline = {}
    for record in results["runs"]:
        if "error" in record:
            print(f"{record['size']:>10} {record['path']:>13}  failed: {record['error']}")
            continue
        if record["path"] == "reference":
            baseline[record["size"]] = record["median_s"]
        base = baseline.get(record["size"])
        record["speedup"] = base / record["median_s"] if base else None
        width, height = (int(v) for v in record["size"].split("x"))
        record["gflops"] = 2 * results["macs_per_pixel"] * width * height / record["median_s"] / 1e9
        diff = record.get("max_abs_diff")
        flag = "" if diff is None or diff <= TOLERANCE or record["path"] == "lowp" else " !"
        memory = record.get("memory") or {}
        if "peak_rss_mb" in memory:
            peak = memory.get("peak_gpu_mb", memory["peak_rss_mb"])
            memory_text = f"{peak:>8.0f} {memory['peak_rss_mb'] - memory['rss_before_mb']:>6.0f}"
        else:
            memory_text = f"{'—':>8} {'':>6}"
        print(
            f"{record['size']:>10} {record['path']:>13} {record.get('backend', ''):>9} {record['median_s']:>9.3f} "
            f"{(record['speedup'] or 0):>7.2f}× {('—' if diff is None else f'{diff:.1e}') + flag:>9} "
            f"{record['gflops']:>8.1f} {record['gflops'] / mm:>6.0%} {memory_text}"
        )
    print("(peak MB: peak RSS of a fresh process running the path once, GPU: peak allocated; +MB: RSS growth "
          "over the loaded model)")
    for record in results["runs"]:
        if "error" not in record and (record["setup_s"] > 1 or record["first_call_s"] > 2 * record["median_s"]):
            print(f"  {record['path']} {record['size']}: setup {record['setup_s']:.1f} s (export / trace / compile), "
                  f"first call {record['first_call_s']:.1f} s")
    memory = results.get("memory_large")
    if memory and "error" not in memory:
        print(f"memory: sapnet derain on {memory['size']} ({memory['input_mb']:.0f} MB input): peak RSS "
              f"{memory['peak_rss_mb']:.0f} MB ({memory['peak_rss_mb'] - memory['rss_before_mb']:.0f} MB above the "
              f"loaded process), {memory['seconds']:.0f} s")
    elif memory:
        print(f"memory check failed: {memory['error']}")


if __name__ == "__main__":
    sys.exit(main())
