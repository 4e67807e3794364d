import numpy as np

from labflow.processing.quality_patterns import cadence, explained_zero_runs, is_counting, missing_by_design, time_gaps


def test_cadence_of_an_interleaved_column_and_of_random_dropouts():
    assert cadence(np.arange(3, 200, 10)) == 10
    kept = np.flatnonzero(np.random.default_rng(0).random(500) > 0.7)  # random dropouts: geometric steps
    assert cadence(kept) == 1


def test_missing_by_design_counts_the_phase_of_an_interleaved_column():
    present = np.zeros((2, 30), dtype=bool)
    present[0] = True
    present[1, 2::5] = True
    assert missing_by_design(present).tolist() == [0, 24]


def test_counting_needs_non_negative_integers():
    assert is_counting(np.array([0.0, 3.0, 7.0, np.nan]))
    assert not is_counting(np.array([0.0, 1.0, 0.0]))  # a 0/1 flag
    assert not is_counting(np.array([-2.0, 3.0, 7.0]))  # dark-subtracted
    assert not is_counting(np.array([0.5, 3.0, 7.0]))


def test_zero_runs_are_explained_at_the_edges_and_where_little_is_expected():
    sparse = np.zeros(60)
    sparse[::10] = 1.0  # about 0.1 count per channel expected
    values = np.concatenate([np.zeros(20), np.full(100, 50.0), np.zeros(20), np.full(100, 50.0), sparse, np.zeros(30)])
    starts = np.array([0, 120, 251, 300])
    lengths = np.array([20, 20, 9, 30])
    assert explained_zero_runs(values, starts, lengths, 0.01).tolist() == [True, False, True, True]


def test_time_gaps_use_the_local_step():
    steps = np.concatenate([np.full(50, 0.01), np.full(50, 1.0), [5.0], np.full(50, 1.0)])
    gaps, usual = time_gaps(steps, float(np.median(steps)), 1.5)
    assert gaps.tolist() == [5.0] and usual.tolist() == [1.0]
