"""SAPNet inference (and training-step) speed: the plain eager forward against the paths that
``sapnet derain`` uses, on the same machine in one run.

    python benchmarks/inference_speed.py                       # 512×512 and 1920×1080, CPU
    python benchmarks/inference_speed.py --sizes 512x512 --repeats 5 --json results.json
    python benchmarks/inference_speed.py --device cuda --dtype bfloat16   # on a GPU

Paths (``--paths``, default ``eager,derain,onnxruntime``):

1. ``eager``       the network as the paper describes it, plain float32 NCHW PyTorch forward
                   (equivalent to the reference code): the baseline.
2. ``derain``      what ``sapnet derain`` runs: ``make_runner(model, "auto")`` (the fast CPU
                   engine of ``sapnet.engine.fast`` on the CPU, eager on a GPU) inside
                   ``derain_tensor`` with its default tiling and clamping; on a GPU with
                   ``--dtype`` bfloat16/float16 the model runs in that precision.
3. ``onnxruntime`` the ONNX export (``sapnet export``) run by ONNX Runtime's CPU provider.

Extra paths for the record: ``channels_last`` (eager, channels-last), ``jit`` (torch.jit.trace +
freeze + optimize_for_inference: oneDNN prepacked convolutions with fused ReLU), ``compile``
(torch.compile, Inductor; compile time reported), ``lowp`` (eager in ``--dtype``, channels-last).

Each path runs in a fresh subprocess (so peak memory is its own): one warm-up call, then the
median of ``--repeats`` timed calls. Reported per path and size: median latency, speed-up over
path 1, max abs difference from path 1 (``derain`` is compared with path 1 clamped to [0, 1],
as it clamps), achieved GFLOP/s (nominal network FLOPs / latency), that figure as a fraction of
the float32 ``torch.mm`` throughput measured in the same run, and peak resident memory (RSS,
and above the process's state after loading the model; GPU: peak allocated). Then the peak
memory of ``sapnet derain`` on a 12-megapixel image (``--memory-megapixels``), and training
steps per second (forward + L1 loss + backward + Adam step, default training config: batch
12×3×100×100) for eager NCHW, channels-last and torch.compile (``--train``).

Notes: what helped and what did not (measured on the 2-core CPU; see the numbers in the run)
-------------------------------------------------------------------------------------------
Helped, kept in the fast engine (``sapnet/engine/fast.py``):
- Per-layer row-band tiling into preallocated maps, with all element-wise work on the band
  while it is in cache. The plain forward spends ~40 % of its time outside the convolutions:
  ReLU / attention multiply / add each stream a fresh 32 MiB map, and glibc's mmap for such
  allocations makes every one page-fault (a ReLU over one map: ~15 ms).
- One single-threaded worker per core pulling chunks of bands, instead of 2 OpenMP threads per
  operation: with other processes on the machine, an OpenMP barrier per small operation made
  band-sized convolutions take 13 ms instead of 1-3 ms (and whole runs 10× slower at times).
- Calling oneDNN (``torch.mkldnn_convolution``) directly in channels-last layout: band-sized
  inputs otherwise fall to PyTorch's slow native convolution (its heuristic sends inputs
  under 20480 elements there). Single-core band convolutions reach ~180 GFLOP/s (~88 % of a
  single-core ``torch.mm``) against ~110 GFLOP/s on whole 512×512 maps.
- Folding the attention gate into the next convolution's weights (conv(relu(x)·g) =
  conv with input channels scaled by g, since g = sigmoid(·) > 0) and storing relu(conv) once:
  removes a multiply pass per layer. Residual: one addcmul + ReLU.
- The four ConvLSTM gates as one convolution with outputs reordered (i, f, o, g): one in-place
  sigmoid; the first stage skips the all-zero hidden half of the LSTM convolution.

Did not help (measured, kept out):
- NNPACK's Winograd F(6×6, 3×3) (``torch._nnpack_spatial_convolution``): 32→32 channels at
  512×512 one thread 58 ms vs oneDNN direct 41 ms, 64→128 equal; 6-8× larger error (1.7e-5 vs
  2.2e-6 per layer). oneDNN in PyTorch exposes no Winograd for float32 on x86. A Winograd in
  PyTorch ops (F(2,3), dilated convolutions split into sub-grids) needs ~30 element-wise
  transform ops on 4× enlarged tensors per band plus 16 small K=32 GEMMs: by operation count
  it is several times slower than the direct oneDNN convolution, so it was not pursued; it
  would need a C++/assembly kernel.
- bfloat16 (AMX on this CPU): max abs error ~1e-2 against the 1e-4 tolerance (``lowp`` path).
- Larger / smaller bands: 8-64 rows at 512 width within noise; 4 rows ~10 % slower.
- Fusing conv1 → conv2 depth-first: the attention's global pool sits between them; a fused
  band would need conv1's halo rows recomputed (100 % extra conv1 work for dilation 16 at
  32-row bands), more than the memory pass it saves.
- torch.compile / jit freeze (``--paths compile,jit``): see the table of a run; Inductor
  cannot fuse across the global pools either, and compiling the unrolled 6-stage graph takes
  minutes on 2 cores.
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
PATHS = ("eager", "derain", "onnxruntime", "channels_last", "jit", "compile", "lowp")
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def load(weights: str | None, stages: int | None = None):
    from sapnet.models import SAPNet, load_checkpoint

    if weights and weights != "random":
        return load_checkpoint(weights, stages=stages), weights
    torch.manual_seed(0)
    return SAPNet(stages=stages or 6).eval(), "random init (seed 0)"


def macs_per_pixel(config) -> int:
    """Multiply-adds per pixel of one forward (3×3 convolutions; attention is negligible)."""
    c = config.channels
    per_stage = 9 * (6 * c + 2 * c * 4 * c + 10 * c * c + c * 3)
    return config.stages * per_stage


def rss_mb() -> float:
    """Current resident memory (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return 0.0


def peak_rss_mb() -> float:
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
        from sapnet.engine.fast import make_runner, resolve_backend
        from sapnet.engine.infer import derain_tensor

        if dtype != torch.float32 and device.type == "cuda":
            model = model.to(device, dtype)
            x = rainy.to(dtype)
            return (lambda: derain_tensor(model, x).float()), f"eager {str(dtype).replace('torch.', '')}"
        model = model.to(device)
        runner = make_runner(model, "auto")
        return (lambda: derain_tensor(runner, rainy)), resolve_backend(model, "auto")
    if path == "onnxruntime":
        from sapnet.engine.fast import OnnxRunner

        runner = OnnxRunner(model)
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
    reference = outputs.get("eager")
    for record in records:
        if "error" in record:
            continue
        record["median_s"] = statistics.median(record["times_s"])
        if reference is not None and record["path"] != "eager":
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
# training steps
# --------------------------------------------------------------------------------------------

def measure_training(modes: list[str], device: torch.device, batch: int, crop: int, repeats: int) -> list[dict]:
    """Steps per second of forward + L1 loss + backward + Adam, modes interleaved step by step."""
    from sapnet.engine.fast import prepare_for_training
    from sapnet.models import SAPNet

    torch.manual_seed(0)
    rainy = torch.rand(batch, 3, crop, crop, device=device)
    clean = torch.rand_like(rainy)
    records, steps = [], []
    for mode in modes:
        torch.manual_seed(0)
        model = SAPNet().to(device).train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        x = rainy
        record = {"mode": mode, "times_s": []}
        start = time.perf_counter()
        try:
            if mode == "channels_last":
                model = model.to(memory_format=torch.channels_last)
                x = rainy.contiguous(memory_format=torch.channels_last)
                forward = model
            elif mode == "compile":
                forward = torch.compile(model)
            elif mode == "prepared":
                forward = prepare_for_training(model)
            else:
                forward = model

            def step(forward=forward, optimizer=optimizer, x=x):
                loss = (forward(x) - clean).abs().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()

            step()
            sync(device)
            record["first_step_s"] = time.perf_counter() - start  # includes compilation
            step()
        except Exception as error:
            record["error"] = f"{error.__class__.__name__}: {str(error).splitlines()[0][:200]}"
            step = None
        records.append(record)
        steps.append(step)
    for _ in range(repeats):
        for record, step in zip(records, steps):
            if step is None:
                continue
            start = time.perf_counter()
            step()
            sync(device)
            record["times_s"].append(time.perf_counter() - start)
    for record in records:
        if record["times_s"]:
            record["median_step_s"] = statistics.median(record["times_s"])
            record["steps_per_s"] = 1 / record["median_step_s"]
    return records


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
    parser.add_argument("--paths", default="eager,derain,onnxruntime", help=f"comma-separated, from {', '.join(PATHS)}")
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
    parser.add_argument("--train", choices=["on", "off"], default="on", help="also time training steps (default on)")
    parser.add_argument("--train-modes", default="eager,channels_last,prepared", help="from eager, channels_last, compile, prepared")
    parser.add_argument("--train-repeats", type=int, default=5, help="timed training steps per mode (default 5)")
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
    if "eager" not in paths:
        paths.insert(0, "eager")
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
    print(f"weights: {weights_text}; config {config.to_dict()}; {macs_per_pixel(config) / 1e6:.3f} M multiply-adds per pixel")
    if load_avg:
        print(f"load average at start: {load_avg[0]:.2f} {load_avg[1]:.2f} {load_avg[2]:.2f} (other processes make timings noisy)")
    mm_before = matmul_gflops(device)
    print(f"float32 torch.mm 4096³: {mm_before:.0f} GFLOP/s")

    results: dict = {
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor(), "torch": torch.__version__,
                    "threads": args.threads, "device": str(device), "load_average_start": load_avg},
        "weights": weights_text, "config": config.to_dict(), "dtype": args.dtype, "repeats": args.repeats,
        "warmup": args.warmup, "mm_gflops": [mm_before], "runs": [], "macs_per_pixel": macs_per_pixel(config),
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

    if args.train == "on":
        modes = [m.strip() for m in args.train_modes.split(",") if m.strip()]
        print(f"  training steps: {', '.join(modes)}, interleaved …", flush=True)
        results["training"] = measure_training(modes, device, 12, 100, args.train_repeats)

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
        if record["path"] == "eager":
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
    training = results.get("training")
    if training:
        eager = next((t for t in training if t["mode"] == "eager" and t.get("median_step_s")), None)
        print("training step (batch 12×3×100×100, forward + L1 + backward + Adam), modes interleaved:")
        for record in training:
            if "error" in record:
                print(f"  {record['mode']:>13} failed: {record['error']}")
                continue
            speed = f" ({eager['median_step_s'] / record['median_step_s']:.2f}× eager)" if eager else ""
            print(f"  {record['mode']:>13} {record['steps_per_s']:.3f} steps/s, {record['median_step_s']:.2f} s/step{speed}; "
                  f"first step {record['first_step_s']:.1f} s")


if __name__ == "__main__":
    sys.exit(main())
