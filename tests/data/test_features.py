"""The scroll notch <-> class table of features.py: fractions of a notch survive."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from actiongen_keras.data import features as F


def test_bins_are_symmetric_sorted_and_zero_is_its_own_class():
    bins = np.array(F.SCROLL_BINS)
    assert np.all(np.diff(bins) > 0)
    np.testing.assert_array_equal(bins, -bins[::-1])
    assert F.NUM_SCROLL_CLASSES == len(bins) == 23
    assert F.SCROLL_BINS[F.SCROLL_ZERO] == 0.0 and F.scroll_class(0) == F.SCROLL_ZERO


def test_every_bin_maps_to_itself_and_back():
    ids = F.scroll_class(np.array(F.SCROLL_BINS))
    np.testing.assert_array_equal(ids, np.arange(F.NUM_SCROLL_CLASSES))
    np.testing.assert_array_equal(F.scroll_notches(ids), F.SCROLL_BINS)


def test_parts_of_a_notch_are_not_rounded_away():
    # touchpad / smooth-scrolling values: the old whole-notch classes made all of them 0
    got = F.scroll_notches(F.scroll_class([0.1, -0.25, 0.3, 0.45, 0.8, 1.2, -1.6, 40.0, -1e4]))
    np.testing.assert_array_equal(got, [0.1, -0.25, 0.25, 0.5, 0.75, 1.0, -1.5, 10.0, -10.0])


@given(st.floats(min_value=-10, max_value=10))
def test_a_value_takes_the_nearest_bin(v):
    got = float(F.scroll_notches(F.scroll_class(v)))
    assert abs(got - v) <= np.min(np.abs(np.array(F.SCROLL_BINS) - v)) + 1e-12
