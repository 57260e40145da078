"""Named weights: the models bundled in this package and the official SAPNet checkpoint.

Like torchvision's weight enums, each bundled entry carries its file, checksum and metadata
(training recipe, measured metrics on named data), so the numbers travel with the weights.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the registry itself needs no torch: `sapnet --help` lists names without it
    import torch

    from sapnet.models.sapnet import SAPNet

BUNDLED_DIR = Path(__file__).parent / "weights"


# Repeated across the registry's entries; each entry's meta stays a plain dict.
_ARCHITECTURE = "SAPNet, 6 stages, 32 channels, CRA, dilations 1-16 (the paper's)"
_FINE_TUNED_LICENCE = (
    "MIT (the official SAPNet weights it starts from: sapnet/weights/LICENSE-sapnet-official.txt); "
    "fine-tuned on BSDS500, Urban100 and Sun-Hays80 photos (research use)"
)
_BSDS_LICENCE = "MIT; trained on BSDS500 photos (research and teaching use)"
_RAIN100L = "Rain100L (100 images, 8-bit outputs)"
_RAINCITYSCAPES100 = "RainCityscapes100 (100 images, 8-bit outputs)"
_DOWNPOUR = "Rain100L ground truths + downpour rain (sapnet synth --preset downpour --seed 0), 8-bit outputs"


def _scores(psnr_y: float, ssim_y: float, psnr_rgb: float, ssim_rgb: float) -> dict[str, float]:
    """One data set's scores: Y channel (MATLAB convention) and RGB (scikit-image), as `sapnet evaluate` reports them."""
    return {"psnr_y": psnr_y, "ssim_y": ssim_y, "psnr_rgb": psnr_rgb, "ssim_rgb": ssim_rgb}


@dataclass(frozen=True)
class WeightsEntry:
    """A named set of weights: where the file is, its sha256, and what is known about it."""

    name: str
    filename: str
    sha256: str
    url: str | None = None
    meta: dict = field(default_factory=dict)

    @property
    def bundled(self) -> bool:
        return self.url is None

    @property
    def path(self) -> Path:
        """Bundled files live in the package; downloaded ones in torch's hub cache."""
        if self.bundled:
            return BUNDLED_DIR / self.filename
        import torch.hub

        return Path(torch.hub.get_dir()) / "checkpoints" / self.filename


OFFICIAL = WeightsEntry(
    name="official",
    filename="sapnet_official_model11.pth",
    sha256="807bb16685280a493236f3e5fa804274198044ad838b5cc060bf66af03a259cb",
    url="https://github.com/ShenZheng2000/SAPNet-for-image-deraining/raw/main/logs/SAPNet/Model11/net_latest.pth",
    meta={
        "description": "official SAPNet checkpoint (logs/SAPNet/Model11), trained on RainTrainH",
        "metrics": {
            _RAIN100L: _scores(32.673, 0.9529, 31.173, 0.9423),
            _RAINCITYSCAPES100: _scores(22.229, 0.8824, 20.963, 0.8499),
        },
        "reproduce": "python benchmarks/rain100l.py official=../shared/weights/sapnet_official_model11.pth; add "
        "--data ../shared/data/raincityscapes100 --name RainCityscapes100 for the second row",
        "licence": "MIT",
    },
)

# Models trained by this project and shipped inside the package, best first.
BUNDLED: dict[str, WeightsEntry] = {
    "sapnet-synth-v24": WeightsEntry(
        name="sapnet-synth-v24",
        filename="sapnet_synth_v24.safetensors",
        sha256="12d110f87dfde10564eeec957c0e28730436de9cd650fbc8ca6b3e337cd79c3c",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-synth-v7 (the official SAPNet checkpoint fine-tuned five times, see below) fine-tuned by "
            "configs/bundled_v24.yaml: v11's recipe with one item in ten dry, the drawn scene lines kept out of heavy "
            "and downpour rain, a scene-brightness term (loss.brightness 0.3: the mean offset over the pixels the "
            "rain left alone) and a moving average of the weights (optim.ema 0.995); presets light x3, downpour x3, "
            "storm x3, heavy, drizzle, shower on BSDS500 + Urban100 (twice) + Sun-Hays80, 100x100 crops, batch 6, "
            "Adam lr 3e-5, grad clip 1.0, bfloat16 autocast (SSIM and brightness in float32), seed 9; loss -SSIM + "
            "0.1 PCL + 0.1 LPISL + 0.1 UBS + 1.0 pixel L1 + 0.3 brightness; the average at step 500",
            "compute": "500 steps, 16 minutes (wall, with two validations) on a 2-core Intel Xeon CPU with AMX; on "
            "top of v7's",
            "metrics": {
                _RAIN100L: _scores(34.301, 0.9619, 32.857, 0.9535),
                _RAINCITYSCAPES100: _scores(22.358, 0.8900, 21.101, 0.8589),
                _DOWNPOUR: _scores(30.069, 0.9151, 28.501, 0.8955),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v24; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row; docs/MODEL_CARD.md for the third",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-synth-v11": WeightsEntry(
        name="sapnet-synth-v11",
        filename="sapnet_synth_v11.safetensors",
        sha256="8359d23ff6277988c312485d984b29aaf05e5570ae92eaf755c1f4b6e76c7c6b",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-synth-v7 (the official SAPNet checkpoint fine-tuned five times, see below) fine-tuned by "
            "configs/bundled_v11.yaml: three items in ten with one to three opaque thin lines drawn into the clean "
            "crop and kept in the target (sapnet/data/scene_lines.py), two items in ten dry, Urban100 drawn twice as "
            "often, presets light x3, downpour x3, storm x3, heavy, drizzle, shower on BSDS500 + Urban100 + "
            "Sun-Hays80, 100x100 crops, batch 6, Adam lr 3e-5, grad clip 1.0, bfloat16 autocast (SSIM in float32), "
            "seed 9; same loss as v3 (-SSIM + 0.1 PCL + 0.1 LPISL + 0.1 UBS + 1.0 pixel L1); the step-500 snapshot "
            "(steps 250 to 750 validated; 750 was behind 500 on all four validation sets)",
            "compute": "500 steps, 16 minutes (wall, with two validations) on a 2-core Intel Xeon CPU with AMX; on "
            "top of v7's",
            "metrics": {
                _RAIN100L: _scores(34.280, 0.9620, 32.842, 0.9537),
                _RAINCITYSCAPES100: _scores(22.353, 0.8916, 21.088, 0.8607),
                _DOWNPOUR: _scores(29.971, 0.9138, 28.387, 0.8936),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v11; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row; docs/MODEL_CARD.md for the third",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-synth-v7": WeightsEntry(
        name="sapnet-synth-v7",
        filename="sapnet_synth_v7.safetensors",
        sha256="0f6262863179c22d99c03d137315398609bd371840f41f5c7fd1665e091c440e",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-synth-v6 (the official SAPNet checkpoint fine-tuned four times, see below) fine-tuned by "
            "configs/bundled_v7.yaml: two items in ten dry (clean crop as input and target), Urban100 drawn twice as "
            "often, presets light x3, downpour x2, storm x3, heavy, drizzle on BSDS500 + Urban100 + Sun-Hays80, "
            "100x100 crops, batch 6, Adam lr 3e-5, grad clip 1.0, bfloat16 autocast (SSIM in float32), seed 7; same "
            "loss as v3 (-SSIM + 0.1 PCL + 0.1 LPISL + 0.1 UBS + 1.0 pixel L1); the step-1000 snapshot, chosen on "
            "the full Rain100L, RainCityscapes100 and downpour sets against steps 1250 and 1500 (the only one that "
            "makes no image of the three worse than its rainy input)",
            "compute": "1,000 steps, 24 minutes (wall, with two validations) on a 2-core Intel Xeon CPU with AMX; on "
            "top of v6's",
            "metrics": {
                _RAIN100L: _scores(33.986, 0.9595, 32.559, 0.9506),
                _RAINCITYSCAPES100: _scores(22.376, 0.8847, 21.108, 0.8526),
                _DOWNPOUR: _scores(30.065, 0.9152, 28.502, 0.8954),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v7; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row; docs/MODEL_CARD.md for the third",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-synth-v6": WeightsEntry(
        name="sapnet-synth-v6",
        filename="sapnet_synth_v6.safetensors",
        sha256="68df83d171e930945b604e72de011bb2594454e1f8c0c018c08e45702fa5cdde",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-synth-v5 (the official SAPNet checkpoint fine-tuned three times, see below) fine-tuned by "
            "configs/bundled_v6.yaml to keep rain-free structure: one item in ten dry (clean crop as input and "
            "target), Urban100 drawn twice as often, presets light x3, downpour x2, storm x2, heavy, drizzle on "
            "BSDS500 + Urban100 + Sun-Hays80, 100x100 crops, batch 6, Adam lr 3e-5 (x0.2 after step 1000), grad clip "
            "1.0, bfloat16 autocast (SSIM in float32), seed 6; same loss as v3 (-SSIM + 0.1 PCL + 0.1 LPISL + 0.1 UBS "
            "+ 1.0 pixel L1); the last (step-1500) snapshot, chosen on the full Rain100L and RainCityscapes100 "
            "against step 1000",
            "compute": "1,500 steps, 52 minutes (wall, with three validations, 9 minutes paused and evaluations beside it "
            "for part of the time) on a 2-core Intel Xeon CPU with AMX; on top of v5's",
            "metrics": {
                _RAIN100L: _scores(33.814, 0.9581, 32.333, 0.9492),
                _RAINCITYSCAPES100: _scores(22.351, 0.8842, 21.090, 0.8525),
                _DOWNPOUR: _scores(30.011, 0.9150, 28.431, 0.8953),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v6; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row; docs/MODEL_CARD.md for the third",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-synth-v5": WeightsEntry(
        name="sapnet-synth-v5",
        filename="sapnet_synth_v5.safetensors",
        sha256="1bb501adf9cb795b9ff6abd945a1c24ab28f4ddc33efcb94030f647f681443df",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-synth-v4 (the official SAPNet checkpoint fine-tuned twice, see below) fine-tuned by "
            "configs/bundled_v5.yaml with Rain100H-like rain: presets light x3, downpour x2, storm x2, heavy, drizzle "
            "on BSDS500 + Urban100 + Sun-Hays80, 100x100 crops, batch 6, Adam lr 5e-5 (x0.2 after step 1200), grad "
            "clip 1.0, bfloat16 autocast (SSIM in float32), seed 5; same loss as v3 (-SSIM + 0.1 PCL + 0.1 LPISL + "
            "0.1 UBS + 1.0 pixel L1); the step-1200 snapshot, chosen on the full Rain100L and RainCityscapes100 "
            "between steps 800 and 1200 (the run was stopped at step 1400)",
            "compute": "1,400 steps, 54 minutes (wall, with validations and other jobs) on a 2-core Intel Xeon CPU "
            "with AMX; on top of v4's",
            "metrics": {
                _RAIN100L: _scores(33.573, 0.9583, 32.024, 0.9494),
                _RAINCITYSCAPES100: _scores(22.430, 0.8892, 21.164, 0.8583),
                _DOWNPOUR: _scores(29.727, 0.9116, 28.094, 0.8908),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v5; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row; docs/MODEL_CARD.md for the third",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-synth-v4": WeightsEntry(
        name="sapnet-synth-v4",
        filename="sapnet_synth_v4.safetensors",
        sha256="9449359c0504aee0f4d0058dc978aff0ab0ef4f8885ee8cc665ee50d6824abeb",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-synth-v3 (the official SAPNet checkpoint fine-tuned, see below) fine-tuned further by "
            "configs/bundled_v4.yaml: presets light x3, heavy x2, storm, drizzle on BSDS500 + Urban100 + Sun-Hays80, "
            "100x100 crops, batch 6, Adam lr 4e-5 (x0.2 after step 300), grad clip 1.0, float32, seed 4; same loss "
            "as v3 (-SSIM + 0.1 PCL + 0.1 LPISL + 0.1 UBS + 1.0 pixel L1); the step-300 snapshot of 500, chosen on "
            "the first 25 pairs of Rain100L and RainCityscapes100",
            "compute": "500 steps, 151 minutes (wall, with five validations) on a 2-core AMD EPYC CPU (AVX2, no "
            "AVX-512/AMX); on top of v3's 66 minutes",
            "metrics": {
                _RAIN100L: _scores(33.650, 0.9578, 32.148, 0.9485),
                _RAINCITYSCAPES100: _scores(22.410, 0.8875, 21.146, 0.8565),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v4; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-synth-v3": WeightsEntry(
        name="sapnet-synth-v3",
        filename="sapnet_synth_v3.safetensors",
        sha256="e95e96bf463f8c8f9ef8978797053aac3b8753e40a260d95217d7dae05c9f25b",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "the official SAPNet checkpoint (RainTrainH) fine-tuned by configs/bundled_v3.yaml on the rebuilt "
            "synthesiser's rain (presets light, light, heavy, heavy, storm, drizzle) on BSDS500 + Urban100 + Sun-Hays80, "
            "100x100 crops, batch 6, Adam lr 2e-4 (x0.2 after steps 400 and 600), grad clip 1.0, float32; loss "
            "-SSIM + 0.1 PCL + 0.1 LPISL + 0.1 UBS (MobileNetV2 FPN) + 1.0 pixel L1; the step-500 snapshot, chosen on "
            "the first 10 pairs of Rain100L and RainCityscapes100 (the run was stopped at step 701)",
            "compute": "500 steps, 66 minutes on a 2-core AMD EPYC CPU (AVX-512, no AMX), with validations",
            "metrics": {
                _RAIN100L: _scores(33.362, 0.9569, 31.877, 0.9473),
                _RAINCITYSCAPES100: _scores(22.429, 0.8901, 21.149, 0.8587),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-synth-v3; add --data ../shared/data/raincityscapes100 "
            "--name RainCityscapes100 for the second row",
            "licence": _FINE_TUNED_LICENCE,
        },
    ),
    "sapnet-bsds-v2": WeightsEntry(
        name="sapnet-bsds-v2",
        filename="sapnet_bsds_v2.safetensors",
        sha256="e3351520996603e96f15d2e87f0011ff68352bbf653078682d08e77b37ff1e77",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "sapnet-bsds-v1 fine-tuned by configs/bundled_v2.yaml: synthetic light+heavy rain without the "
            "haze veil on 409 BSDS500 photos, 100x100 crops, batch 6, 600 Adam steps (lr 2e-4, x0.2 after 400/500), "
            "grad clip 1.0, float32, same loss as v1",
            "compute": "stage 1 (v1) 5.4 minutes on one NVIDIA H100; stage 2 103 minutes on a 2-core AMD EPYC CPU",
            "metrics": {
                _RAIN100L: _scores(33.556, 0.9521, 32.074, 0.9398),
                "Rain100L ground truths 001-030 + synthetic heavy rain (seed 1), 8-bit outputs": (
                    _scores(21.112, 0.8937, 19.447, 0.8385)
                ),
                "Rain100L ground truths 001-030 + synthetic heavy rain without veil (seed 1), 8-bit outputs": (
                    _scores(29.992, 0.9308, 28.493, 0.9070)
                ),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-bsds-v2",
            "licence": _BSDS_LICENCE,
        },
    ),
    "sapnet-bsds-v1": WeightsEntry(
        name="sapnet-bsds-v1",
        filename="sapnet_bsds_v1.safetensors",
        sha256="76d3ac7231650565d9112fd1dfbbf0a1f294cda4b941ebded5183a28ace0575d",
        meta={
            "architecture": _ARCHITECTURE,
            "recipe": "configs/bundled.yaml: synthetic light+heavy rain on 409 BSDS500 photos, 100x100 crops, "
            "batch 12, 3,200 Adam steps (lr 1e-3, x0.2 after 2,000/2,400/2,800), grad clip 1.0, "
            "loss -SSIM + 0.1 PCL (VGG-16) + 0.1 LPISL (AlexNet) + 0.1 UBS (FPN on MobileNetV2)",
            "compute": "5.4 minutes on one NVIDIA H100 (float32)",
            "metrics": {
                _RAIN100L: _scores(30.569, 0.9414, 29.091, 0.9200),
                "Rain100L ground truths 001-030 + synthetic heavy rain (seed 1), 8-bit outputs": (
                    _scores(27.925, 0.9279, 26.424, 0.9000)
                ),
                "Rain100L ground truths 001-030 + synthetic heavy rain without veil (seed 1), 8-bit outputs": (
                    _scores(20.863, 0.8814, 19.413, 0.7881)
                ),
            },
            "reproduce": "python benchmarks/rain100l.py sapnet-bsds-v1",
            "licence": _BSDS_LICENCE,
        },
    ),
}

WEIGHTS: dict[str, WeightsEntry] = {OFFICIAL.name: OFFICIAL, **BUNDLED}
DEFAULT_WEIGHTS: str | None = next(iter(BUNDLED), None)


class WeightsError(RuntimeError):
    """Weights that cannot be found, fetched or trusted; the message says how to fix it."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(entry: WeightsEntry, path: Path) -> None:
    actual = sha256_of(path)
    if actual != entry.sha256:
        raise WeightsError(f"{path}: sha256 {actual} does not match the expected {entry.sha256} for '{entry.name}'")


def fetch(entry: WeightsEntry) -> Path:
    """The local file for ``entry``: bundled, already cached, or downloaded into the hub cache."""
    path = entry.path
    if path.is_file():
        _verify(entry, path)
        return path
    if entry.bundled:
        raise WeightsError(f"bundled weights '{entry.name}' are missing from the installation ({path}); reinstall sapnet")
    path.parent.mkdir(parents=True, exist_ok=True)
    import torch.hub

    try:
        torch.hub.download_url_to_file(entry.url, str(path), progress=False)
    except Exception as error:  # urllib raises several kinds; all mean "not reachable"
        raise WeightsError(
            f"cannot download '{entry.name}' weights from {entry.url} ({error.__class__.__name__}: {error}); "
            f"download that file on a connected machine and put it at {path} (sha256 {entry.sha256})"
        ) from None
    _verify(entry, path)
    return path


def weights_path(weights: str | os.PathLike | None = None) -> tuple[WeightsEntry | None, Path]:
    """The registry entry (None for a plain path) and the local file of ``weights``: a name of
    :data:`WEIGHTS` (fetched and checked), a file path, or None for the default bundled model."""
    if weights is None:
        if DEFAULT_WEIGHTS is None:
            raise WeightsError(
                "no bundled model is installed yet: pass --weights with a checkpoint path or 'official' "
                f"(names: {', '.join(WEIGHTS)})"
            )
        weights = DEFAULT_WEIGHTS
    if isinstance(weights, str) and weights in WEIGHTS:
        entry = WEIGHTS[weights]
        return entry, fetch(entry)
    path = Path(weights)
    if not path.is_file():
        raise WeightsError(f"{weights}: neither a weights name ({', '.join(WEIGHTS)}) nor a checkpoint file")
    return None, path


def load_network(
    weights: str | os.PathLike | None = None, device: str | torch.device = "cpu", stages: int | None = None
) -> SAPNet:
    """The bare :class:`SAPNet` in eval mode from a weights name, a checkpoint path (any format of
    :mod:`sapnet.models.checkpoints`) or None (the default bundled model). Most callers want
    :func:`sapnet.load_model`, which also picks a backend and derains images of any size."""
    from sapnet.models.checkpoints import CheckpointError, load_checkpoint

    _, path = weights_path(weights)
    try:
        model = load_checkpoint(path, stages=stages)
    except CheckpointError as error:
        raise WeightsError(str(error)) from None
    return model.to(device).eval()

