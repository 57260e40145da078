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
import tempfile
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
# one measurement, in its own process
# --------------------------------------------------------------------------------------------

def child(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    dtype = DTYPES[spec["dtype"]]
    model, _ = load(spec["weights"], spec.get("stages"))
    path, (height, width) = spec["path"], spec["size"]
    rainy = image(height, width)
    result: dict = {"path": path, "size": f"{width}x{height}"}
    setup_start = time.perf_counter()

    if path == "eager":
        model = model.to(device)
        x = rainy.to(device)
        fn = lambda: model(x)  # noqa: E731
    elif path == "channels_last":
        model = model.to(device).to(memory_format=torch.channels_last)
        x = rainy.to(device).contiguous(memory_format=torch.channels_last)
        fn = lambda: model(x)  # noqa: E731
    elif path == "lowp":
        model = model.to(device, dtype).to(memory_format=torch.channels_last)
        x = rainy.to(device, dtype).contiguous(memory_format=torch.channels_last)
        fn = lambda: model(x).float()  # noqa: E731
    elif path == "derain":
        from sapnet.engine.fast import make_runner, resolve_backend
        from sapnet.engine.infer import derain_tensor

        if dtype != torch.float32 and device.type == "cuda":
            model = model.to(device, dtype)
            result["backend"] = f"eager {spec['dtype']}"
            fn = lambda: derain_tensor(model, rainy.to(dtype)).float()  # noqa: E731
        else:
            model = model.to(device)
            result["backend"] = resolve_backend(model, "auto")
            runner = make_runner(model, "auto")
            fn = lambda: derain_tensor(runner, rainy)  # noqa: E731
    elif path == "onnxruntime":
        from sapnet.engine.fast import OnnxRunner

        runner = OnnxRunner(model)
        fn = lambda: runner(rainy)  # noqa: E731
    elif path == "jit":
        with torch.no_grad():
            traced = torch.jit.trace(model, rainy[..., :64, :64], check_trace=False)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))
        fn = lambda: frozen(rainy)  # noqa: E731
    elif path == "compile":
        compiled = torch.compile(model, dynamic=False)
        fn = lambda: compiled(rainy)  # noqa: E731
    else:
        raise ValueError(path)
    result["setup_s"] = time.perf_counter() - setup_start
    base_rss = rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    with torch.inference_mode():
        first = time.perf_counter()
        out = fn()
        sync(device)
        result["first_call_s"] = time.perf_counter() - first  # includes compilation / page faults
        times, out = timed(fn, device, spec["warmup"] - 1 if spec["warmup"] > 0 else 0, spec["repeats"])
    result["times_s"] = times
    result["median_s"] = statistics.median(times)
    result["peak_rss_mb"] = peak_rss_mb()
    result["rss_before_mb"] = base_rss
    if device.type == "cuda":
        result["peak_gpu_mb"] = torch.cuda.max_memory_allocated(device) / 2**20
    np.save(spec["output"], out.detach().float().cpu().numpy())
    return result


def memory_child(spec: dict) -> dict:
    """Peak memory of the derain path on a large image (tiled as ``sapnet derain`` tiles it)."""
    from sapnet.engine.fast import make_runner
    from sapnet.engine.infer import derain_tensor

    torch.set_num_threads(spec["threads"])
    model, _ = load(spec["weights"], spec.get("stages"))
    height, width = spec["size"]
    rainy = torch.rand(1, 3, height, width)
    runner = make_runner(model, "auto")
    base = rss_mb()
    start = time.perf_counter()
    derain_tensor(runner, rainy)
    return {
        "size": f"{width}x{height}", "seconds": time.perf_counter() - start, "peak_rss_mb": peak_rss_mb(),
        "rss_before_mb": base, "input_mb": rainy.numel() * 4 / 2**20,
    }


def train_child(spec: dict) -> dict:
    """Training steps per second: forward + L1 loss + backward + Adam step."""
    from sapnet.models import SAPNet

    torch.set_num_threads(spec["threads"])
    device = torch.device(spec["device"])
    torch.manual_seed(0)
    model = SAPNet().to(device).train()
    batch = spec["batch"]
    rainy = torch.rand(batch, 3, spec["crop"], spec["crop"], device=device)
    clean = torch.rand_like(rainy)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    mode = spec["mode"]
    setup = time.perf_counter()
    if mode == "prepared":
        from sapnet.engine.fast import prepare_for_training

        step_model = prepare_for_training(model)
    elif mode == "channels_last":
        model = model.to(memory_format=torch.channels_last)
        rainy = rainy.contiguous(memory_format=torch.channels_last)
        step_model = model
    elif mode == "compile":
        step_model = torch.compile(model)
    else:
        step_model = model

    def step():
        loss = (step_model(rainy) - clean).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    first = time.perf_counter()
    step()
    sync(device)
    first_s = time.perf_counter() - first
    times, _ = timed(step, device, 1, spec["repeats"])
    return {"mode": mode, "first_step_s": first_s, "setup_s": first - setup, "median_step_s": statistics.median(times),
            "steps_per_s": 1 / statistics.median(times), "times_s": times}


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
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per measurement; the median is reported (default 3)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (default 1)")
    parser.add_argument("--paths", default="eager,derain,onnxruntime", help=f"comma-separated, from {', '.join(PATHS)}")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="precision of the derain/lowp paths on a GPU")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="CPU threads (default: all)")
    parser.add_argument(
        "--weights", default=str(OFFICIAL) if OFFICIAL.exists() else "random",
        help="checkpoint (default: the official one under $SAPNET_SHARED, else 'random' init; same speed)",
    )
    parser.add_argument("--stages", type=int, default=None, help="override the recurrent stages (default 6)")
    parser.add_argument("--memory-megapixels", type=float, default=12.0, help="image for the peak-memory check (0: skip)")
    parser.add_argument("--train", choices=["on", "off"], default="on", help="also time training steps (default on)")
    parser.add_argument("--train-modes", default="eager,channels_last,compile,prepared", help="training variants")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per measurement before giving up")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._child:
        kind, spec = args._child[0], json.loads(args._child[1])
        result = {"measure": child, "memory": memory_child, "train": train_child}[kind](spec)
        print(json.dumps(result))
        return 0

    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device visible")
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
        "warmup": args.warmup, "mm_gflops": [mm_before], "runs": [],
    }
    spec_base = {"threads": args.threads, "device": args.device, "dtype": args.dtype, "weights": args.weights,
                 "stages": args.stages, "warmup": args.warmup, "repeats": args.repeats}
    with tempfile.TemporaryDirectory() as tmp:
        for size_text in args.sizes.split(","):
            size = parse_size(size_text)
            reference = None
            for path in paths:
                out_file = str(Path(tmp) / f"{path}_{size_text}.npy")
                print(f"  {path:>13} {size_text} …", end="", flush=True)
                record = run_child("measure", {**spec_base, "path": path, "size": size, "output": out_file}, args.timeout)
                if "error" in record:
                    print(f" failed: {record['error']}")
                    results["runs"].append({"path": path, "size": size_text, **record})
                    continue
                out = np.load(out_file)
                if path == "eager":
                    reference = out
                elif reference is not None:
                    expected = np.clip(reference, 0, 1) if path == "derain" else reference
                    record["max_abs_diff"] = float(np.abs(out - expected).max())
                flops = 2 * macs_per_pixel(config) * size[0] * size[1]
                record["gflops"] = flops / record["median_s"] / 1e9
                print(f" {record['median_s']:.3f} s")
                results["runs"].append(record)
        mm_after = matmul_gflops(device)
        results["mm_gflops"].append(mm_after)

        memory = None
        if args.memory_megapixels > 0 and device.type == "cpu":
            side = (args.memory_megapixels * 1e6 / 12) ** 0.5
            size = (int(round(3 * side)), int(round(4 * side)))
            print(f"  memory check: sapnet derain on {size[1]}x{size[0]} …", end="", flush=True)
            memory = run_child("memory", {**spec_base, "size": size}, args.timeout)
            print(" done" if "error" not in memory else f" failed: {memory['error']}")
            results["memory"] = memory

        training = []
        if args.train == "on":
            for mode in args.train_modes.split(","):
                print(f"  training step, {mode} …", end="", flush=True)
                record = run_child("train", {**spec_base, "mode": mode, "batch": 12, "crop": 100}, args.timeout)
                print(" done" if "error" not in record else f" failed: {record['error']}")
                training.append(record)
            results["training"] = training

    mm = statistics.median(results["mm_gflops"])
    results["mm_gflops_median"] = mm
    print()
    print(f"float32 matmul throughput (median of before/after): {mm:.0f} GFLOP/s; tolerance {TOLERANCE:g}")
    header = f"{'size':>10} {'path':>13} {'backend':>9} {'median s':>9} {'speed-up':>8} {'max|Δ|':>9} {'GFLOP/s':>8} {'of mm':>6} {'peak RSS MB':>12} {'+over load':>10}"
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
        diff = record.get("max_abs_diff")
        flag = "" if diff is None or diff <= TOLERANCE or record["path"] == "lowp" else " !"
        memory_text = f"{record.get('peak_gpu_mb', record['peak_rss_mb']):.0f}"
        print(
            f"{record['size']:>10} {record['path']:>13} {record.get('backend', ''):>9} {record['median_s']:>9.3f} "
            f"{(record['speedup'] or 0):>7.2f}× {('—' if diff is None else f'{diff:.1e}') + flag:>9} "
            f"{record['gflops']:>8.1f} {record['gflops'] / mm:>6.0%} {memory_text:>12} "
            f"{record['peak_rss_mb'] - record['rss_before_mb']:>10.0f}"
        )
    for record in results["runs"]:
        if record.get("first_call_s", 0) > 2 * record.get("median_s", 1e9) or record.get("setup_s", 0) > 1:
            print(f"  {record['path']} {record['size']}: setup {record['setup_s']:.1f} s (export / trace / compile), "
                  f"first call {record['first_call_s']:.1f} s")
    if memory and "error" not in memory:
        print(f"memory: sapnet derain on {memory['size']} ({memory['input_mb']:.0f} MB input): peak RSS "
              f"{memory['peak_rss_mb']:.0f} MB ({memory['peak_rss_mb'] - memory['rss_before_mb']:.0f} MB above the "
              f"loaded process), {memory['seconds']:.0f} s")
    if training:
        eager = next((t for t in training if t.get("mode") == "eager" and "error" not in t), None)
        print("training step (batch 12×3×100×100, forward + L1 + backward + Adam):")
        for record in training:
            if "error" in record:
                print(f"  {record.get('mode', '?'):>13} failed: {record['error']}")
                continue
            speed = f" ({eager['median_step_s'] / record['median_step_s']:.2f}× eager)" if eager else ""
            print(f"  {record['mode']:>13} {record['steps_per_s']:.3f} steps/s, {record['median_step_s']:.2f} s/step{speed}; "
                  f"first step {record['first_step_s']:.1f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
