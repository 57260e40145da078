"""Band-size sweep of the fast CPU engine (median of --repeats after one warm-up per setting).

    python benchmarks/band_sweep.py --size 512x512 --bands 4096,8192,16384,32768
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from sapnet.engine.infer.backends.fast import FastSAPNet
from sapnet.models import SAPNet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="512x512", help="WxH")
    parser.add_argument("--bands", default="4096,8192,16384,32768", help="band_pixels values (LSTM bands: half)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    width, height = (int(v) for v in args.size.split("x"))
    torch.manual_seed(0)
    model = SAPNet().eval()
    rainy = torch.rand(1, 3, height, width)
    engines = {int(b): FastSAPNet(model, band_pixels=int(b), lstm_band_pixels=max(1, int(b) // 2)) for b in args.bands.split(",")}
    times: dict[int, list[float]] = {b: [] for b in engines}
    for engine in engines.values():
        engine(rainy)
    for _ in range(args.repeats):  # interleaved, so drifting load hits every setting alike
        for band, engine in engines.items():
            start = time.perf_counter()
            engine(rainy)
            times[band].append(time.perf_counter() - start)
    for band, values in times.items():
        print(f"band_pixels {band:>6} ({band // width} rows): median {statistics.median(values):.3f} s  {['%.2f' % v for v in values]}")


if __name__ == "__main__":
    main()
