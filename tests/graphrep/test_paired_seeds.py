"""experiments/paired_seeds.py: accuracies paired by seed, not by position."""
import pytest

from tests.conftest import load_experiment


def test_differences_pair_by_seed_and_refuse_other_seeds():
    paired = load_experiment("paired_seeds")
    a = {"seeds": [5, 6, 7], "accuracies": [60.0, 58.0, 57.0]}
    b = {"seeds": [7, 5, 6], "accuracies": [56.0, 61.5, 58.0]}  # another order
    assert paired.paired_differences(a, b) == {5: -1.5, 6: 0.0, 7: 1.0}
    with pytest.raises(ValueError, match=r"different seeds \(\[5, 6, 7\] and \[5, 6\]\)"):
        paired.paired_differences(a, {"seeds": [5, 6], "accuracies": [1.0, 2.0]})
