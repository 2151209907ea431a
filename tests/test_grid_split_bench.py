"""The grid-split diagnostic (benchmarks/grid_split.py): its windows are a partition of unity,
one piece is the engine's own grid (or a coarser one its estimate accepts), and a window too
sharp for the steps is refused by the estimate rather than counted."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.grid_split import split_nodes, windows
from scoreclaims.verifiers import default_tol

M = np.array([[0.2, 0.1], [4.5, 1.0], [4.0, -2.0]])  # separated, k = 2: the grid's case


@settings(max_examples=50, deadline=None)
@given(st.lists(st.floats(-5, 5), min_size=0, max_size=4, unique=True),
       st.floats(0.05, 2.0), st.lists(st.floats(-8, 8), min_size=1, max_size=20))
def test_windows_are_a_partition_of_unity(edges: list[float], width: float,
                                          x: list[float]) -> None:
    chi = windows(np.array(x), sorted(edges), width)
    assert chi.shape == (len(edges) + 1, len(x))
    np.testing.assert_allclose(chi.sum(axis=0), 1.0, atol=1e-14)
    assert np.all(chi >= -1e-15)


def test_one_piece_is_the_engines_grid_and_a_sharp_window_is_refused() -> None:
    tol = default_tol(2)
    whole = split_nodes(M, tol, [], 0.3)
    assert whole is not None and len(whole["pieces"]) == 1
    factor, nodes = whole["pieces"][0]
    # the same steps keep the same nodes, up to the drop's rounding (the engine's left-out weight
    # is the budget here): within 1 %
    assert factor >= 1.0 and 0 < nodes <= 1.01 * whole["engine_nodes"]
    assert whole["split_nodes"] == nodes
    sharp = split_nodes(M, tol, [2.0], 0.01)  # far finer than any step the grid takes
    assert sharp is not None and sharp["split_nodes"] is None
    assert None in sharp["pieces"]
