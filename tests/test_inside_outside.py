"""Motion boundaries and inside-outside maps on shapes whose answer is known."""

import cv2
import numpy as np
import pytest

from mcnn import config
from mcnn.motion.boundaries import max_neighbour_angle, motion_boundaries
from mcnn.motion.inside_outside import (
    frame_quality,
    inside_map,
    inside_outside,
    inside_votes,
    remove_border_curves,
    remove_short_curves,
)


@pytest.fixture
def fst_cfg():
    return config.validate({})["motion"]["fst"]


def square_outline(shape, top, left, size):
    b = np.zeros(shape, bool)
    bottom, right = top + size - 1, left + size - 1
    b[top, left : right + 1] = b[bottom, left : right + 1] = True
    b[top : bottom + 1, left] = b[top : bottom + 1, right] = True
    return b


def test_closed_square_interior_is_inside_and_everything_else_outside(fst_cfg):
    b = square_outline((100, 120), 40, 50, 30)
    votes = inside_votes(b)
    assert np.all(votes[41:69, 51:79] == 8)  # every ray from the interior crosses once
    expected = np.zeros_like(b)
    expected[41:69, 51:79] = True
    np.testing.assert_array_equal(inside_map(b, fst_cfg), expected)


def test_filled_ring_body_is_inside_and_its_hole_outside(fst_cfg):
    # The motion boundary of a moving annulus is its outer and its inner contour. A ray from the
    # ring's body crosses only the outer contour (odd: inside); a ray from the hole crosses both
    # (even: outside) -- so FST's voting recovers the ring without its hole.
    yy, xx = np.mgrid[:120, :120]
    r = np.hypot(yy - 60, xx - 60)
    ring = (r <= 35) & (r >= 15)
    # Ring pixels with any of their 8 neighbours outside the ring: a 4-connected contour, as
    # thick as real motion boundaries (a diagonal ray could slip through a thinner one).
    eroded = cv2.erode(ring.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    contour = ring & ~eroded
    inside = inside_map(contour, fst_cfg)
    body = ring & ~contour
    assert inside[body].all()
    assert not inside[r < 14].any()  # the hole
    assert not inside[r > 36].any()  # the background
    assert not inside[contour].any()  # boundary pixels are outside


def test_short_fragments_no_longer_streak_the_inside_map(fst_cfg):
    # Short horizontal fragments (ripples): a ray running along one counts a crossing, so the
    # pixels beside a row of them get odd counts on several rays. Dropped, only the square's
    # interior stays inside, exactly as without them.
    square = square_outline((100, 160), 40, 50, 30)
    fragments = np.zeros_like(square)
    for left in range(22, 134, 12):  # clear of the 20-px border band
        fragments[28, left : left + 6] = fragments[76, left : left + 6] = True
        fragments[30:36, left] = True
    noisy = square | fragments
    np.testing.assert_array_equal(remove_short_curves(noisy, 20), square)
    np.testing.assert_array_equal(remove_short_curves(noisy, 0), noisy)
    fst_cfg["min_curve_pixels"] = 20
    np.testing.assert_array_equal(inside_map(noisy, fst_cfg), inside_map(square, fst_cfg))
    fst_cfg["min_curve_pixels"] = 0
    assert (inside_map(noisy, fst_cfg) != inside_map(square, fst_cfg)).any()


def test_curve_touching_the_border_band_is_removed(fst_cfg):
    # FST's release: a curve reaching the band goes whole.
    fst_cfg["border_removal"] = "curves"
    band = fst_cfg["border_band"]
    near_border = square_outline((100, 160), 30, band - 5, 30)  # closed, but in the band
    centre = square_outline((100, 160), 30, 100, 30)
    cleaned = remove_border_curves(near_border | centre, band)
    np.testing.assert_array_equal(cleaned, centre)
    inside = inside_map(near_border | centre, fst_cfg)
    assert not inside[:, :60].any()
    assert inside[31:59, 101:129].all()


def test_pixels_mode_keeps_an_object_cut_by_the_frame_edge(fst_cfg):
    # An object entering from the left: its outline is open on the image border. Only the
    # band's pixels go; from inside, the rays to the left, up-left and down-left leave through
    # the open side (even: out) but the other 5 cross the outline once (odd: in), so 5 > 4.
    fst_cfg["border_removal"] = "pixels"
    band = fst_cfg["border_band"]
    cut = np.zeros((100, 160), bool)  # rows 30..79, columns ..39: the left side is off-frame
    cut[30, :40] = cut[79, :40] = True
    cut[30:80, 39] = True
    kept = remove_border_curves(cut, band, "pixels")
    np.testing.assert_array_equal(kept[:, band:-band][band:-band], cut[:, band:-band][band:-band])
    assert not kept[:, :band].any() and not kept[:band].any()
    inside = inside_map(cut, fst_cfg)
    assert inside[31:79, band:39].all()
    assert not inside[:, 39:].any() and not inside[:31].any() and not inside[79:].any()
    fst_cfg["border_removal"] = "curves"
    assert not inside_map(cut, fst_cfg).any()


def translating_square_flow(step, shape=(100, 120)):
    flow = np.zeros((*shape, 2), np.float32)
    flow[35:65, 45:75, 0] = step  # the square moves right by `step` px; background still
    return flow


def test_boundaries_of_a_translating_square(fst_cfg):
    strength = motion_boundaries(translating_square_flow(3.0), fst_cfg)
    assert strength.dtype == np.float32 and 0 <= strength.min() and strength.max() <= 1
    edge = np.zeros(strength.shape, bool)
    edge[34:66, 44:76] = True
    edge[36:64, 46:74] = False  # a 2-pixel band around the square's outline
    # Central differences spread the 3 px step over 2 px: |grad| = 1.5 beside the straight
    # edges, b = 1 - exp(-0.7 * 1.5) = 0.65, a strong boundary.
    np.testing.assert_allclose(strength[40:60, [44, 45, 74, 75]], 1 - np.exp(-0.7 * 1.5), rtol=1e-5)
    assert strength[~edge].max() == 0
    inside, _ = inside_outside(translating_square_flow(3.0), fst_cfg)
    assert inside[37:63, 47:73].all() and not inside[~edge & ~inside].any()
    assert inside.sum() <= 30 * 30


def test_orientation_term_measures_the_largest_neighbour_angle():
    flow = np.zeros((5, 5, 2), np.float32)
    flow[..., 0] = 1.0
    flow[2, 2] = (-1.0, 0.0)  # opposite direction: pi
    flow[0, 0] = (0.0, 1.0)  # perpendicular: pi / 2
    angle = max_neighbour_angle(flow)
    assert angle[2, 2] == pytest.approx(np.pi)
    assert angle[0, 0] == pytest.approx(np.pi / 2)
    assert angle[4, 4] == 0


def test_quality_and_recalibration_recover_a_slow_object(fst_cfg):
    yy, xx = np.mgrid[:100, :100]
    compact = (abs(yy - 50) < 10) & (abs(xx - 50) < 10)
    scattered = (yy % 20 == 0) & (xx % 20 == 0)
    assert frame_quality(compact) > fst_cfg["min_quality"] > frame_quality(scattered)
    assert frame_quality(np.zeros((10, 10), bool)) == 0
    # A 1.4 px step gives |grad| = 0.7: with the default constant b_m = 0.39, a moderate
    # gradient without change of direction, so no boundary; the sweep's larger constants find it.
    flow = translating_square_flow(1.4)
    default = motion_boundaries(flow, fst_cfg)
    assert not inside_map(default > 0.5, fst_cfg).any()
    inside, strength = inside_outside(flow, fst_cfg)
    assert inside[37:63, 47:73].all() and inside.sum() <= 30 * 30
    assert np.all(strength >= default) and strength.max() > 0.6
