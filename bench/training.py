"""Time `fit_decision_tree` and compare it with an unlimited tree on noisy labels.

    .venv/bin/python bench/training.py [--sizes 1000,10000,100000,1000000] [--noise 0.1] [--max-rows 50000]

Prints, per size: seconds to train (nested cross-validation + final fit), the reported
held-out accuracy, the chosen depth and leaves, and an unlimited tree's accuracy and
leaves on a 20% hold-out, to show why the depth is chosen by cross-validation.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from predictor.columns import IndicatorColumns
from predictor.training import fit_decision_tree


def noisy_rule(n: int, noise: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rollback when value < 400 and time >= 10, with a share `noise` of labels flipped."""
    rng = np.random.default_rng(seed)
    values = rng.uniform(100, 1000, n)
    times = rng.uniform(0, 60, n)
    decisions = ((values < 400) & (times >= 10)).astype(int)
    flip = rng.random(n) < noise
    decisions[flip] = 1 - decisions[flip]
    return values, times, decisions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument(
        "--max-rows", type=int, default=50_000, help="sample size above which training samples (the app's default)"
    )
    args = parser.parse_args()

    header = ("rows", "used", "train s", "reported acc", "depth", "leaves", "unlimited acc", "leaves")
    print("{:>8} {:>7} {:>8} {:>12} {:>5} {:>6} {:>13} {:>7}".format(*header))
    for size in (int(s) for s in args.sizes.split(",")):
        values, times, decisions = noisy_rule(size, args.noise)
        started = time.perf_counter()
        result = fit_decision_tree(
            IndicatorColumns(values=values.tolist(), times=times.tolist(), decisions=decisions.tolist()),
            max_rows=args.max_rows,
        )
        seconds = time.perf_counter() - started

        features = np.column_stack([values, times])
        x_train, x_test, y_train, y_test = train_test_split(
            features, decisions, test_size=0.2, random_state=0, stratify=decisions
        )
        unlimited = DecisionTreeClassifier(random_state=0).fit(x_train, y_train)
        print(
            f"{size:>8} {result.n_trained_on:>7} {seconds:>8.2f} {result.accuracy:>12.3f} "
            f"{result.max_depth!s:>5} {result.n_leaves:>6} "
            f"{unlimited.score(x_test, y_test):>13.3f} {unlimited.get_n_leaves():>7}"
        )


if __name__ == "__main__":
    main()
