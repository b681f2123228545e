"""Time `fit_decision_tree` and compare it with an unlimited tree on noisy labels.

    .venv/bin/python bench/training.py [--sizes 1000,10000,100000,1000000] [--noise 0.1] [--max-rows 50000]

Labels follow the demo's "Requests per minute" rule (`metrics.demo`), a share `--noise`
of them flipped. Prints, per size: seconds to train (nested cross-validation + final fit), the reported
held-out accuracy, the chosen depth and leaves, and an unlimited tree's accuracy and
leaves on a 20% hold-out, to show why the depth is chosen by cross-validation.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from harness import indicators, parse_sizes, print_table
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from predictor.training import fit_decision_tree


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default="1000,10000,100000,1000000")
    parser.add_argument("--noise", type=float, default=0.1)
    parser.add_argument(
        "--max-rows", type=int, default=50_000, help="sample size above which training samples (the app's default)"
    )
    args = parser.parse_args(argv)
    columns = [("rows", ">8"), ("used", ">7"), ("train s", ">8.2f"), ("reported acc", ">12.3f"), ("depth", ">5")]
    columns += [("leaves", ">6"), ("unlimited acc", ">13.3f"), ("leaves", ">7")]
    print_table(columns, (measure(size, args.noise, args.max_rows) for size in args.sizes))
    return 0


def measure(size: int, noise: float, max_rows: int) -> tuple[object, ...]:
    data = indicators(size, seed=0, noise=noise)
    started = time.perf_counter()
    result = fit_decision_tree(data, max_rows=max_rows)
    seconds = time.perf_counter() - started

    features = np.column_stack([data.values, data.times])
    decisions = np.array(data.decisions)
    x_train, x_test, y_train, y_test = train_test_split(
        features, decisions, test_size=0.2, random_state=0, stratify=decisions
    )
    unlimited = DecisionTreeClassifier(random_state=0).fit(x_train, y_train)
    return (
        size,
        result.n_trained_on,
        seconds,
        result.accuracy,
        str(result.max_depth),
        result.n_leaves,
        unlimited.score(x_test, y_test),
        unlimited.get_n_leaves(),
    )


if __name__ == "__main__":
    raise SystemExit(main())
