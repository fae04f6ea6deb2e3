"""Repeated stratified k-fold splits of labelled sessions (or clients) by key, for ``botwatch eval``.

Pure Python and keyed by string so the split can be computed on the driver and joined back
to Spark data, and is reproducible from the seed alone: keys are sorted before shuffling, so
the order Spark happens to return them in does not change the folds.

Labelled logs are small (tens or hundreds of bots), so a single split's numbers swing with
which few sessions land in the test fold; repeats with different shuffles show that spread.
"""

from __future__ import annotations

import random
from collections.abc import Hashable, Sequence

Fold = tuple[list[str], list[str]]


def _fold_of_each_key(
    by_class: dict[Hashable, list[str]], folds: int, rng: random.Random
) -> dict[str, int]:
    """Deal each class's shuffled keys round-robin over the folds.

    The deal continues from class to class (rather than restarting at fold 0) so fold sizes
    also differ by at most one; the fold numbers themselves are shuffled so the larger folds
    are not always the first ones.
    """
    fold_ids = list(range(folds))
    rng.shuffle(fold_ids)
    assignment: dict[str, int] = {}
    position = 0
    for label in sorted(by_class, key=repr):
        members = list(by_class[label])
        rng.shuffle(members)
        for key in members:
            assignment[key] = fold_ids[position % folds]
            position += 1
    return assignment


def repeated_stratified_kfold(
    keys: Sequence[str],
    labels: Sequence[int],
    folds: int = 5,
    repeats: int = 10,
    seed: int = 0,
) -> list[list[Fold]]:
    """``repeats`` lists of ``folds`` (train_keys, test_keys), both sorted.

    Per repeat every key is in exactly one test fold, and each fold holds floor or ceil of
    ``class size / folds`` members of every class. Repeat ``r`` depends only on ``seed`` and
    ``r``, so asking for more repeats keeps the earlier ones.
    """
    if len(keys) != len(labels):
        raise ValueError(f"{len(keys)} keys but {len(labels)} labels")
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    if len(set(keys)) != len(keys):
        raise ValueError(f"{len(keys) - len(set(keys))} duplicate key(s): a key must be one unit")
    by_class: dict[Hashable, list[str]] = {}
    for key, label in sorted(zip(keys, labels, strict=True)):
        by_class.setdefault(label, []).append(key)
    small = {label: len(members) for label, members in by_class.items() if len(members) < folds}
    if small:
        raise ValueError(
            f"class(es) with fewer members than {folds} folds: "
            + ", ".join(f"{label!r}: {n}" for label, n in sorted(small.items(), key=repr))
        )
    ordered = sorted(keys)
    result: list[list[Fold]] = []
    for r in range(repeats):
        # A string seed is hashed deterministically (not by PYTHONHASHSEED).
        rng = random.Random(f"botwatch-cv:{seed}:{r}")
        assignment = _fold_of_each_key(by_class, folds, rng)
        repeat: list[Fold] = []
        for f in range(folds):
            test = [k for k in ordered if assignment[k] == f]
            train = [k for k in ordered if assignment[k] != f]
            repeat.append((train, test))
        result.append(repeat)
    return result
