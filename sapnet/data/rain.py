"""Synthetic rain on clean photographs, for training pairs made on the fly.

What is modelled:

- **Streaks** follow Garg & Nayar ("Photorealistic rendering of rain streaks", SIGGRAPH 2006):
  a drop falling during the exposure images as a thin, bright, semi-transparent line along its
  motion, of nearly even brightness along its length. They are rendered the way Rain100L/Rain100H
  (Yang et al., "Deep joint rain detection and removal from a single image", CVPR 2017) and
  Rain1400 (Fu et al., CVPR 2017) were made, after the well-known Photoshop recipe: sparse random
  drops smeared by a motion-blur kernel of a given length, width and angle.
- **Compositing** is additive and clipped: in Rain100L, rainy − clean is non-negative and equal in
  the three colour channels, i.e. grey light added on top of the scene.
- **Heavy rain** stacks several streak layers (Rain100H's streaks come in several directions and
  sizes) and adds the rain accumulation term of Yang et al.'s model, O = α(B + ΣS) + (1 − α)A:
  a veil of scattered light (atmospheric light A near white). The veil is screen-blended, which
  matches that term for A = 1 and, like the streaks, never darkens the scene.

Everything random comes from the ``numpy.random.Generator`` passed in, so a seed fixes the result.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

_FWHM_PER_SIGMA = 2.3548  # full width at half maximum of a Gaussian, in standard deviations


@dataclass(frozen=True)
class StreakLayer:
    """One sheet of streaks: drops at one distance from the camera, falling one way."""

    density: float  # drops per pixel
    length: float  # streak length in pixels: how far a drop falls during the exposure
    width: float  # streak thickness in pixels (full width at half maximum)
    angle: float  # degrees from vertical; positive leans the streak's lower end to the right
    brightness: float  # light a streak adds at its core for the brightest drops, in [0, 1] units


@dataclass(frozen=True)
class RainParams:
    """A full rain realisation's parameters: streak layers plus the accumulation veil."""

    layers: tuple[StreakLayer, ...]
    veil: float = 0.0  # fraction of white light scattered into each pixel by distant rain (1 − α)


def _light_rain(rng: np.random.Generator) -> RainParams:
    """One sheet of thin, near-vertical streaks, like Rain100L.

    Calibrated on rainy-vs-clean RGB PSNR: Rain100L's test set has mean 25.5 dB (10-90 %:
    20.3-31.8); this preset, on 409 BSDS500 photos, mean 25.3 dB (21.2-29.5).
    """
    layer = StreakLayer(
        density=_log_uniform(rng, 0.0008, 0.005),
        length=rng.uniform(15, 35),
        width=rng.uniform(1.0, 1.8),
        angle=rng.uniform(-12, 12),
        brightness=rng.uniform(0.3, 0.5),
    )
    return RainParams(layers=(layer,))


def _heavy_rain(rng: np.random.Generator) -> RainParams:
    """Three to five streak layers at different depths around one wind direction, plus the veil.

    Calibrated to Rain100H's rainy-vs-clean PSNR of about 13-15 dB: on 409 BSDS500 photos this
    preset gives mean 13.7 dB (10-90 %: 12.0-15.7).
    """
    wind = rng.uniform(-30, 30)
    layers = tuple(
        # Nearer drops sweep longer, wider (defocused) and fainter streaks, and fewer are in view.
        StreakLayer(
            density=0.0015 * (1 - 0.6 * nearness),
            length=20 + 40 * nearness,
            width=1.2 + 2.8 * nearness,
            angle=wind + rng.normal(0, 8),
            brightness=rng.uniform(0.4, 0.7) * (1 - 0.4 * nearness),
        )
        for nearness in rng.uniform(0, 1, rng.integers(3, 6))
    )
    return RainParams(layers=layers, veil=rng.uniform(0.1, 0.25))


@dataclass(frozen=True)
class VeilPrior:
    """The accumulation veil drawn apart from the streaks: with ``probability`` a veil uniform in
    [0, ``maximum``], otherwise none, whatever the preset.

    The presets tie the veil to heavy rain (always with ``heavy``, never with ``light``). A
    uniform veil on a crop cannot be told from a photo low in contrast, so a network trained on
    the presets learns to take a veil off clear, low-contrast photos too and darkens them
    (docs/MODEL_CARD.md). This prior sets how often and how strongly a veil appears, for runs
    that study that trade-off.
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


_PRESET_SAMPLERS = {"light": _light_rain, "heavy": _heavy_rain}
PRESETS = tuple(_PRESET_SAMPLERS)


def sample_rain_params(preset: str, rng: np.random.Generator, veil: bool = True) -> RainParams:
    """Draw one realisation's parameters from a preset (angles, densities... vary per draw).

    ``veil=False`` drops the preset's haze veil; it is drawn after the streaks, so the streaks
    (and the generator's state) are the same either way."""
    try:
        sampler = _PRESET_SAMPLERS[preset]
    except KeyError:
        raise ValueError(f"unknown rain preset {preset!r}; choose from {', '.join(PRESETS)}") from None
    params = sampler(rng)
    return params if veil else replace(params, veil=0.0)


def synthesize_rain(clean: np.ndarray, rain: str | RainParams, rng: np.random.Generator) -> np.ndarray:
    """Add rain to ``clean`` (H×W×3 float in [0, 1]); returns the rainy image, float32 in [0, 1].

    ``rain`` is a preset name (see :data:`PRESETS`) or explicit :class:`RainParams`. The result
    is never darker than ``clean`` and depends only on the inputs and the state of ``rng``.
    """
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"synthesize_rain needs an H×W×3 RGB image, got shape {clean.shape}")
    params = sample_rain_params(rain, rng) if isinstance(rain, str) else rain
    streaks = sum(
        (render_streaks(clean.shape[:2], layer, rng) for layer in params.layers),
        start=np.zeros(clean.shape[:2]),
    )
    rainy = np.clip(clean + streaks[..., None], 0.0, 1.0)
    rainy = 1.0 - (1.0 - rainy) * (1.0 - params.veil)  # screen blend with a uniform veil
    return rainy.astype(np.float32)


def render_streaks(shape: tuple[int, int], layer: StreakLayer, rng: np.random.Generator) -> np.ndarray:
    """One layer's added light (H×W, ≥ 0): random drops motion-blurred into streaks."""
    height, width = shape
    count = rng.poisson(layer.density * height * width)
    drops = np.zeros(shape)
    # Drop brightness varies with size and distance; none is invisible.
    intensities = layer.brightness * rng.uniform(0.3, 1.0, count)
    np.add.at(drops, (rng.integers(0, height, count), rng.integers(0, width, count)), intensities)
    kernel = streak_kernel(layer.length, layer.width, layer.angle)
    return np.maximum(_convolve_wrapped(drops, kernel), 0.0)  # FFT round-off can dip below zero


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


def _convolve_wrapped(field: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Circular convolution through the FFT.

    The drop field is random and stationary, so streaks that wrap around the border look like any
    others; this avoids padding and keeps the cost independent of the kernel size. The kernel is
    folded onto the image torus, which also handles kernels larger than the image.
    """
    height, width = field.shape
    offsets = np.arange(kernel.shape[0]) - kernel.shape[0] // 2
    folded = np.zeros(field.shape)
    np.add.at(folded, ((offsets % height)[:, None], (offsets % width)[None, :]), kernel)
    return np.fft.irfft2(np.fft.rfft2(field) * np.fft.rfft2(folded), s=field.shape)
