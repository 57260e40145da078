"""Synthetic rain on clean photographs, for training pairs made on the fly.

What is modelled, in the order it is applied:

- **Fog** (rendered-rain sets such as RainCityscapes, Hu et al., CVPR 2019): the scene seen
  through scattering air, ``J·t + A·(1 − t)`` with transmission ``t = exp(−β·d)`` falling with
  the scene depth ``d`` and a grey atmospheric light ``A``. It is tied to depth, never uniform: a
  uniform veil on a crop cannot be told from a photo low in contrast, and a network trained on
  one darkens clear photos (docs/MODEL_CARD.md, ``sapnet-bsds-v1``). Photos carry no depth, so
  :func:`pseudo_depth` gives one: a ground plane seen in perspective below a random horizon,
  far above it, with smooth random relief.
- **Streaks** follow Garg & Nayar ("Photorealistic rendering of rain streaks", SIGGRAPH 2006):
  a drop falling during the exposure images as a thin, bright, semi-transparent line along its
  motion, of nearly even brightness along its length. They are rendered with the Photoshop
  recipe that Rain100L/Rain100H (Yang et al., CVPR 2017) and Rain1400 (Fu et al., CVPR 2017)
  were made with: sparse noise kept above a threshold (the drops), a Gaussian blur (their size),
  a motion blur of a given length and angle, a levels curve, a screen or additive blend. Several
  sheets at different depths make heavy rain: a sheet is hidden behind scene parts nearer than
  it, dimmed by the fog in front of it, and defocused by its own blur.
- **Compositing** adds light and clips (``add``) or screens it (``screen``): real streaks are
  light added to the scene, so neither darkens it. Rain100L's rainy − clean is non-negative and
  equal in the three channels, i.e. grey light.
- A **uniform veil** (the accumulation term of Yang et al.'s O = α(B + ΣS) + (1 − α)A, screen-
  blended with A = 1) is kept for the older presets' recipes (:class:`VeilPrior`); no preset of
  the rebuilt synthesiser draws one.
- **Capture**: sensor noise (shot noise growing with the signal, plus read noise) and JPEG
  compression on the rainy image only, as a phone camera would add them.

Presets span drizzle to a downpour with fog: ``drizzle`` (fine, short, faint, dense),
``light`` (one sheet of thin streaks, like Rain100L), ``heavy`` (long near-white sheets at
several depths, the near ones wide and defocused, screen-blended, over a thin far haze),
``storm`` (streaks at several depths in depth-dependent fog, like RainCityscapes),
``downpour`` (dense, thin, near-white streaks added and clipped, like Rain100H: calibrated
against models trained on RainTrainH) and ``shower`` (dense short dashes, mostly JPEG-compressed
since, as real rain shows in web and phone photos). ``benchmarks/rain_coverage.py`` compares
their rain layers with Rain100L's and RainCityscapes100's.

Everything random comes from the ``numpy.random.Generator`` passed in, so a seed fixes the result.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image
from scipy import fft, ndimage

_FWHM_PER_SIGMA = 2.3548  # full width at half maximum of a Gaussian, in standard deviations
BLENDS = ("add", "screen")


@dataclass(frozen=True)
class StreakLayer:
    """One sheet of streaks: drops at one distance from the camera, falling one way."""

    density: float  # drops per pixel
    length: float  # streak length in pixels: how far a drop falls during the exposure
    width: float  # streak thickness in pixels (full width at half maximum)
    angle: float  # degrees from vertical; positive leans the streak's lower end to the right
    brightness: float  # light a streak adds at its core for the brightest drops, in [0, 1] units
    angle_spread: float = 0.0  # standard deviation of single drops' angles around ``angle`` (gusts)
    blur: float = 0.0  # defocus of the sheet: Gaussian standard deviation in pixels
    depth: float = 0.0  # distance of the sheet in the scene's depth units [0, 1] (0: at the camera)
    gamma: float = 1.0  # levels curve on the sheet, out = in ** gamma (> 1 thins faint streak ends)


@dataclass(frozen=True)
class Fog:
    """Depth-dependent scattering: transmission ``exp(−density · depth)`` towards ``airlight``."""

    density: float  # extinction β over the depth range [0, 1]: far transmission is exp(−β)
    airlight: tuple[float, float, float] = (0.8, 0.8, 0.8)  # RGB colour of the scattered light


@dataclass(frozen=True)
class Capture:
    """What the camera adds to the rainy image: sensor noise, then JPEG compression."""

    noise: float = 0.0  # standard deviation of the noise at mid-grey, in [0, 1] units
    jpeg_quality: int | None = None  # JPEG quality 1-95, or None for no compression


@dataclass(frozen=True)
class RainParams:
    """A full rain realisation's parameters: fog, streak sheets, blend, veil and capture."""

    layers: tuple[StreakLayer, ...]
    veil: float = 0.0  # fraction of white light scattered uniformly into each pixel (1 − α)
    fog: Fog | None = None
    blend: str = "add"
    capture: Capture = field(default_factory=Capture)

    def __post_init__(self) -> None:
        if self.blend not in BLENDS:
            raise ValueError(f"blend must be one of {', '.join(BLENDS)}, got {self.blend!r}")


def _drizzle(rng: np.random.Generator) -> RainParams:
    """Fine rain: many short, thin, faint streaks in one or two sheets, sometimes with light haze."""
    layers = tuple(
        StreakLayer(
            density=_log_uniform(rng, 0.004, 0.02),
            length=rng.uniform(3, 12),
            width=rng.uniform(0.8, 1.3),
            angle=rng.uniform(-20, 20),
            brightness=rng.uniform(0.1, 0.3),
            angle_spread=rng.uniform(0, 6),
            blur=rng.uniform(0, 0.6),
            depth=rng.uniform(0, 0.3),
        )
        for _ in range(rng.integers(1, 3))
    )
    fog = _fog(rng, transmission=(0.75, 0.95)) if rng.random() < 0.25 else None
    return RainParams(layers=layers, fog=fog, blend="screen", capture=_capture(rng))


def _light_rain(rng: np.random.Generator) -> RainParams:
    """One sheet of thin, near-vertical streaks, like Rain100L.

    Calibrated on rainy-vs-clean RGB PSNR: Rain100L's test set has mean 25.5 dB (10-90 %:
    20.3-31.8); this preset, on 409 BSDS500 photos, mean 25.3 dB (21.2-29.5). Its streak
    parameters are those of the first synthesiser (the bundled models' light rain).
    """
    layer = StreakLayer(
        density=_log_uniform(rng, 0.0008, 0.005),
        length=rng.uniform(15, 35),
        width=rng.uniform(1.0, 1.8),
        angle=rng.uniform(-12, 12),
        brightness=rng.uniform(0.3, 0.5),
    )
    return RainParams(layers=(layer,), capture=_capture(rng))


def _heavy_rain(rng: np.random.Generator) -> RainParams:
    """Three to five near-white, near-vertical sheets at several depths, sometimes over haze.

    Meant as Rain100H's kind, it is not: models trained on RainTrainH leave much of it in place
    (its wide defocused near streaks and the screen blend); ``downpour`` is. Streaks run from
    tens of pixels to beyond a BSDS photo's height (far sheets short, thin and sharp; near ones
    long, up to 5 px wide and defocused), screen-blended. On three images in ten an
    accumulation haze: depth-dependent fog of near-white light, thin and only far away (more
    haze taught the network to darken clear photos: docs/MODEL_CARD.md).
    """
    wind = rng.uniform(-15, 15)
    layers = tuple(
        StreakLayer(
            density=_log_uniform(rng, 0.0007, 0.0025) * (1 - 0.7 * nearness),
            length=_log_uniform(rng, 20, 80) * (1 + 3 * nearness),
            width=1.0 + 3.5 * nearness * rng.uniform(0.5, 1.0),
            angle=wind + rng.normal(0, 4),
            brightness=rng.uniform(0.55, 1.0),
            angle_spread=rng.uniform(0, 3),
            blur=1.2 * nearness * rng.uniform(0, 1),
            depth=0.3 * (1 - nearness),
            gamma=rng.uniform(1.0, 1.8),
        )
        for nearness in rng.uniform(0, 1, rng.integers(3, 6))
    )
    fog = _fog(rng, transmission=(0.75, 0.95), grey=(0.85, 1.0)) if rng.random() < 0.3 else None
    return RainParams(layers=layers, fog=fog, blend="screen", capture=_capture(rng))


def _downpour(rng: np.random.Generator) -> RainParams:
    """Dense, thin, near-white streaks added to the scene and clipped, in three to five
    near-vertical sheets: the rain of Rain100H/RainTrainH (Yang et al., CVPR 2017).

    Calibrated with models trained on RainTrainH as probes (PReNet's ``prenet_rain100h.pth`` and
    the official SAPNet checkpoint): they take most of the right kind of rain off and leave
    much of another kind (wide defocused streaks, screen blending, slanted sheets, a
    uniform veil) in place; the figures and their command are in docs/MODEL_CARD.md. Additive
    with clipping: bright drops saturate to white, which the screen blend of ``heavy`` never does.
    """
    wind = rng.uniform(-15, 15)
    layers = tuple(
        StreakLayer(
            density=_log_uniform(rng, 0.0006, 0.002),
            length=_log_uniform(rng, 20, 100),
            width=rng.uniform(1.0, 2.2),
            angle=wind + rng.uniform(-8, 8),
            brightness=rng.uniform(0.6, 1.0),
            blur=rng.uniform(0, 0.6),
        )
        for _ in range(rng.integers(3, 6))
    )
    return RainParams(layers=layers, blend="add", capture=_capture(rng))


def _storm(rng: np.random.Generator) -> RainParams:
    """Rendered heavy rain in fog, like RainCityscapes: sheets at several depths, thick far fog."""
    wind = rng.uniform(-25, 25)
    layers = tuple(
        StreakLayer(
            density=_log_uniform(rng, 0.0002, 0.001),
            length=_log_uniform(rng, 12, 50) * (1 + 3 * nearness),
            width=1.0 + 2.0 * nearness,
            angle=wind + rng.normal(0, 6),
            brightness=rng.uniform(0.3, 0.8),
            angle_spread=rng.uniform(0, 5),
            blur=0.8 * nearness,
            depth=0.6 * (1 - nearness),
        )
        for nearness in rng.uniform(0, 1, rng.integers(2, 5))
    )
    fog = _fog(rng, transmission=(0.4, 0.9), grey=(0.55, 0.9))
    return RainParams(layers=layers, fog=fog, blend="add", capture=_capture(rng))


def _shower(rng: np.random.Generator) -> RainParams:
    """Real rain as web and phone photos show it (``../shared/data/real_rain``, looked at): dense,
    short, moderately bright streaks in two to four sheets, mostly baked into hard JPEG compression.

    Over a street or a coat at a few hundred pixels across, a fast shutter turns the drops into
    dashes a few to twenty pixels long, so many that they overlap, and the photo has usually been
    compressed since (the 8×8 blocks smear the dashes); ``drizzle`` is fainter and sparser,
    ``light`` longer and sparser, and neither is compressed as often.
    """
    wind = rng.uniform(-20, 20)
    layers = tuple(
        StreakLayer(
            density=_log_uniform(rng, 0.003, 0.015),
            length=_log_uniform(rng, 4, 20),
            width=rng.uniform(1.0, 2.0),
            angle=wind + rng.normal(0, 4),
            brightness=rng.uniform(0.15, 0.45),
            angle_spread=rng.uniform(0, 4),
            blur=rng.uniform(0, 0.8),
        )
        for _ in range(rng.integers(2, 5))
    )
    noise = float(rng.uniform(0.003, 0.015)) if rng.random() < 0.3 else 0.0
    quality = int(rng.integers(35, 86)) if rng.random() < 0.8 else None
    return RainParams(layers=layers, blend="add", capture=Capture(noise=noise, jpeg_quality=quality))


def _fog(rng: np.random.Generator, transmission: tuple[float, float], grey: tuple[float, float] = (0.6, 0.95)) -> Fog:
    """Fog whose far transmission lies in ``transmission``; airlight grey with a slight tint."""
    level = rng.uniform(*grey)
    tint = rng.normal(0, 0.02, 3)
    airlight = tuple(float(v) for v in np.clip(level + tint, 0, 1))
    return Fog(density=float(-np.log(rng.uniform(*transmission))), airlight=airlight)


def _capture(rng: np.random.Generator) -> Capture:
    """Noise on a fifth of the images, JPEG on a fifth, each independently and mild."""
    noise = float(rng.uniform(0.003, 0.015)) if rng.random() < 0.2 else 0.0
    quality = int(rng.integers(70, 96)) if rng.random() < 0.2 else None
    return Capture(noise=noise, jpeg_quality=quality)


@dataclass(frozen=True)
class VeilPrior:
    """A uniform veil drawn apart from the streaks: with ``probability`` a veil uniform in
    [0, ``maximum``], otherwise none, whatever the preset.

    For the recipes of the first bundled models (``configs/bundled*.yaml`` and the veil
    experiment): a uniform veil teaches a network to darken clear, low-contrast photos
    (docs/MODEL_CARD.md), which is why the rebuilt presets draw depth-dependent :class:`Fog`
    instead.
    """

    probability: float = 0.5
    maximum: float = 0.25

    def __post_init__(self) -> None:
        if not 0 <= self.probability <= 1 or not 0 <= self.maximum < 1:
            raise ValueError(f"veil probability must be in [0, 1] and maximum in [0, 1), got {self}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(0, self.maximum)) if rng.random() < self.probability else 0.0


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


# New presets go last: benchmarks seed each preset by its position.
_PRESET_SAMPLERS = {
    "drizzle": _drizzle, "light": _light_rain, "heavy": _heavy_rain, "storm": _storm, "downpour": _downpour, "shower": _shower,
}
PRESETS = tuple(_PRESET_SAMPLERS)


def sample_rain_params(preset: str, rng: np.random.Generator, fog: bool = True) -> RainParams:
    """Draw one realisation's parameters from a preset (angles, densities... vary per draw).

    ``fog=False`` drops the preset's fog and veil; they are drawn after the streaks, so the
    streaks are the same either way."""
    try:
        sampler = _PRESET_SAMPLERS[preset]
    except KeyError:
        raise ValueError(f"unknown rain preset {preset!r}; choose from {', '.join(PRESETS)}") from None
    params = sampler(rng)
    return params if fog else replace(params, fog=None, veil=0.0)


def synthesize_rain(
    clean: np.ndarray, rain: str | RainParams, rng: np.random.Generator, depth: np.ndarray | None = None
) -> np.ndarray:
    """Add rain to ``clean`` (H×W×3 float in [0, 1]); returns the rainy image, float32 in [0, 1].

    ``rain`` is a preset name (see :data:`PRESETS`) or explicit :class:`RainParams`. ``depth``
    (H×W in [0, 1], 1 farthest) places fog and streak sheets; by default :func:`pseudo_depth`
    draws one. Without fog and capture noise the result is never darker than ``clean``; it
    depends only on the inputs and the state of ``rng``.
    """
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"synthesize_rain needs an H×W×3 RGB image, got shape {clean.shape}")
    params = sample_rain_params(rain, rng) if isinstance(rain, str) else rain
    shape = clean.shape[:2]
    if depth is None:
        depth = pseudo_depth(shape, rng)
    elif depth.shape != shape:
        raise ValueError(f"depth map is {depth.shape} but the image is {shape}")
    scene = clean.astype(np.float64)
    extinction = params.fog.density if params.fog is not None else 0.0
    if params.fog is not None:
        transmission = np.exp(-extinction * depth)[..., None]
        scene = scene * transmission + np.asarray(params.fog.airlight) * (1 - transmission)
    streaks = np.zeros(shape)
    for layer in params.layers:
        # A sheet is seen only where the scene lies behind it, through the fog in front of it.
        behind = np.clip((depth - layer.depth) / 0.05 + 0.5, 0.0, 1.0)
        streaks += render_streaks(shape, layer, rng) * behind * np.exp(-extinction * layer.depth)
    streaks = np.clip(streaks, 0.0, 1.0)[..., None]
    if params.blend == "screen":
        rainy = 1.0 - (1.0 - scene) * (1.0 - streaks)
    else:
        rainy = np.clip(scene + streaks, 0.0, 1.0)
    rainy = 1.0 - (1.0 - rainy) * (1.0 - params.veil)  # screen blend with a uniform veil
    return apply_capture(rainy, params.capture, rng)


def pseudo_depth(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A plausible depth map (H×W, 0 near to 1 far) for a photo that has none.

    A ground plane in perspective: below a horizon at a random height the distance grows as
    1 / (row − horizon) up to the far limit, which everything above the horizon has; smooth
    random relief (things standing on the ground, hills) shifts it by up to ±0.2.
    """
    height, width = shape
    horizon = rng.uniform(0.2, 0.6)
    bottom_depth = rng.uniform(0.05, 0.25)
    rows = (np.arange(height) + 0.5) / height
    below = np.maximum(rows - horizon, 1e-6)
    ground = np.minimum(bottom_depth * (1 - horizon) / below, 1.0)
    relief = rng.uniform(-0.2, 0.2, (4, 6))
    relief = ndimage.zoom(relief, (height / 4, width / 6), order=3, mode="nearest", grid_mode=True)[:height, :width]
    return np.clip(ground[:, None] + relief, 0.0, 1.0)


def apply_capture(image: np.ndarray, capture: Capture, rng: np.random.Generator) -> np.ndarray:
    """Sensor noise (variance a·x + b, shot plus read noise) then JPEG; float32 in [0, 1]."""
    if capture.noise > 0:
        # Shot noise dominates: at mid-grey the standard deviation is ``capture.noise``.
        variance = capture.noise**2 * (0.8 * image / 0.5 + 0.2)
        image = image + rng.normal(0.0, 1.0, image.shape) * np.sqrt(variance)
    image = np.clip(image, 0.0, 1.0)
    if capture.jpeg_quality is not None:
        buffer = io.BytesIO()
        Image.fromarray(np.round(image * 255).astype(np.uint8)).save(buffer, "JPEG", quality=capture.jpeg_quality)
        buffer.seek(0)
        with Image.open(buffer) as decoded:
            image = np.asarray(decoded.convert("RGB"), dtype=np.float64) / 255.0
    return image.astype(np.float32)


def render_streaks(shape: tuple[int, int], layer: StreakLayer, rng: np.random.Generator) -> np.ndarray:
    """One sheet's added light (H×W, ≥ 0), by the Photoshop recipe.

    Drops (noise above a threshold) are strewn over the image and a margin as wide as a streak,
    so streaks enter from outside the frame; each group of drops is smeared by a motion-blur
    kernel whose angle is jittered by ``angle_spread``; the sheet is then defocused and passed
    through a levels curve.
    """
    height, width = shape
    kernel_half = int(np.ceil(layer.length / 2 + 2 * layer.width))
    canvas = (fft.next_fast_len(height + 2 * kernel_half, real=True), fft.next_fast_len(width + 2 * kernel_half, real=True))
    count = rng.poisson(layer.density * canvas[0] * canvas[1])
    # Drop brightness varies with size and distance; none is invisible.
    intensities = layer.brightness * rng.uniform(0.3, 1.0, count)
    rows, cols = rng.integers(0, canvas[0], count), rng.integers(0, canvas[1], count)
    groups = 3 if layer.angle_spread > 0 else 1
    group_of = rng.integers(0, groups, count)
    spectrum = 0
    for group in range(groups):
        drops = np.zeros(canvas)
        chosen = group_of == group
        np.add.at(drops, (rows[chosen], cols[chosen]), intensities[chosen])
        angle = layer.angle + (rng.normal(0, layer.angle_spread) if groups > 1 else 0.0)
        spectrum = spectrum + fft.rfft2(drops) * fft.rfft2(_fold(streak_kernel(layer.length, layer.width, angle), canvas))
    sheet = fft.irfft2(spectrum, s=canvas)
    sheet = sheet[kernel_half : kernel_half + height, kernel_half : kernel_half + width]
    if layer.blur > 0:
        sheet = ndimage.gaussian_filter(sheet, layer.blur, mode="wrap")
    sheet = np.maximum(sheet, 0.0)  # FFT round-off can dip below zero
    if layer.gamma != 1.0:
        sheet = layer.brightness * (np.minimum(sheet / layer.brightness, 1.0) ** layer.gamma)
    return sheet


def streak_kernel(length: float, width: float, angle: float) -> np.ndarray:
    """Motion-blur kernel of one streak: an anti-aliased line, at most 1 on its axis, odd square size.

    Along the line the profile is flat in the middle (Garg & Nayar's even brightness over the
    exposure) and fades linearly over the outer quarter at each end, as the drop's defocused
    image enters and leaves; across it, a Gaussian of the given full width at half maximum.
    """
    if length <= 0 or width <= 0:
        raise ValueError(f"streak length and width must be positive, got {length} and {width}")
    half = int(np.ceil(length / 2 + width))
    y, x = np.mgrid[-half : half + 1, -half : half + 1].astype(np.float64)
    theta = np.deg2rad(angle)
    along = y * np.cos(theta) + x * np.sin(theta)
    across = x * np.cos(theta) - y * np.sin(theta)
    sigma = width / _FWHM_PER_SIGMA
    fade = max(length / 4, 1.0)
    along_profile = np.clip((length / 2 + 0.5 - np.abs(along)) / fade, 0.0, 1.0)
    return along_profile * np.exp(-0.5 * (across / sigma) ** 2)


def _fold(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The kernel folded onto a torus of ``shape``, centred at the origin, for circular convolution.

    The caller pads the drop field by the kernel's reach, so wrapped-around streaks fall in the
    margin it crops away; through the FFT the cost does not depend on the kernel's size.
    """
    offsets = np.arange(kernel.shape[0]) - kernel.shape[0] // 2
    folded = np.zeros(shape)
    np.add.at(folded, ((offsets % shape[0])[:, None], (offsets % shape[1])[None, :]), kernel)
    return folded
