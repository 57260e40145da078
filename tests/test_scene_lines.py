"""Scene lines and lit edges (sapnet/data/scene_lines.py): seeded, thin, opaque, mostly near-vertical."""

import numpy as np
import pytest
from scipy import ndimage

from sapnet.data.scene_lines import _line_coverage, draw_lit_edges, draw_scene_lines


def grey(value: float, size: int = 64) -> np.ndarray:
    return np.full((size, size, 3), value, np.float32)


@pytest.mark.parametrize("draw", [draw_scene_lines, draw_lit_edges])
def test_same_seed_same_drawing_other_seed_other_drawing(draw):
    image = np.random.default_rng(0).random((48, 64, 3), dtype=np.float32)
    first = draw(image, np.random.default_rng(3))
    assert np.array_equal(first, draw(image, np.random.default_rng(3)))
    assert not np.array_equal(first, draw(image, np.random.default_rng(4)))
    assert first.shape == image.shape and first.dtype == np.float32 and 0 <= first.min() and first.max() <= 1


def test_lines_replace_the_background_instead_of_adding_light():
    for seed in range(20):
        on_black = draw_scene_lines(grey(0.0), np.random.default_rng(seed))
        on_white = draw_scene_lines(grey(1.0), np.random.default_rng(seed))
        drawn = (on_black.max(2) > 0.02) | (on_white.min(2) < 0.98)
        assert 0 < drawn.mean() < 0.3  # something drawn, and thin
        # Where a line covers a pixel fully the background no longer shows: a streak would leave
        # black and white 1 apart, an opaque line leaves them (1 - opacity) apart at most.
        assert np.abs(on_white - on_black).min() <= 0.15


def test_a_line_is_at_most_four_pixels_wide_and_most_are_near_vertical():
    vertical = 0
    for seed in range(200):
        covered = _line_coverage((64, 64), np.random.default_rng(seed)) > 0.5
        assert covered.any()  # drawn through a point inside the frame
        # Anti-aliased, a 4 px line half-covers at most 5 pixels across: no 6 × 6 block fits inside it.
        assert not ndimage.binary_erosion(covered, np.ones((6, 6), bool)).any()
        rows, cols = np.nonzero(covered)
        if len(rows) > 20:
            spread = np.cov(np.stack([rows, cols]))
            vertical += spread[0, 0] > 4 * spread[1, 1]  # long axis within ~27° of vertical
    assert 100 <= vertical <= 170  # 60 % drawn within 15° of vertical, a few others steep by chance


def test_lit_edges_are_opaque():
    for seed in range(20):
        on_black = draw_lit_edges(grey(0.0), np.random.default_rng(seed))
        on_white = draw_lit_edges(grey(1.0), np.random.default_rng(seed))
        drawn = (on_black.max(2) > 0.02) | (on_white.min(2) < 0.98)
        assert 0 < drawn.mean() < 0.6
        assert np.abs(on_white - on_black).min() == 0  # fully covered pixels no longer show the background


def test_a_lit_edge_is_a_thin_bright_rim_beside_a_darker_body():
    beside = 0
    for seed in range(40):
        drawn = draw_lit_edges(grey(0.45), np.random.default_rng(seed)).mean(2)
        rim = drawn > 0.7  # the rim is near-white, the body at most 0.65 of it
        body = (drawn < 0.7) & (np.abs(drawn - 0.45) > 0.01)
        assert rim.any()
        # A rim is at most 3 px wide: anti-aliased, no 5 x 5 block fits inside it.
        assert not ndimage.binary_erosion(rim, np.ones((5, 5), bool)).any()
        # and it runs along the body (unless the body fell outside the frame): most rim pixels touch it.
        touching = rim & ndimage.binary_dilation(body, np.ones((3, 3), bool), iterations=2)
        beside += touching.sum() > 0.5 * rim.sum()
    assert beside >= 36
