"""Repeated stratified k-fold by key: properties, determinism, and scikit-learn's fold sizes.

Ours is pure Python, keyed by string and seeded by a string (reproducible whatever order Spark
returns keys in), so its folds are not sklearn's; what must agree is the stratification: how
many members of each class each fold gets.
"""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from spark_jobs.evaluation.splits import repeated_stratified_kfold

KEYS = [f"s{i:02d}" for i in range(23)]
CV_LABELS = [1 if i % 3 == 0 else 0 for i in range(23)]  # 8 bots, 15 humans


def test_stratified_folds_cover_every_key_once():
    splits = repeated_stratified_kfold(KEYS, CV_LABELS, folds=5, repeats=4, seed=1)
    label_of = dict(zip(KEYS, CV_LABELS, strict=True))
    assert len(splits) == 4
    for repeat in splits:
        assert len(repeat) == 5
        tested = [k for _, test in repeat for k in test]
        assert sorted(tested) == KEYS
        sizes = [len(test) for _, test in repeat]
        assert max(sizes) - min(sizes) <= 1
        for train, test in repeat:
            assert sorted(train + test) == KEYS and not set(train) & set(test)
            bots = sum(label_of[k] for k in test)
            assert bots in (1, 2)  # 8 / 5 = 1.6
            assert len(test) - bots in (3, 4)  # 15 / 5 = 3


def test_splits_are_deterministic_and_seeded():
    base = repeated_stratified_kfold(KEYS, CV_LABELS, folds=5, repeats=3, seed=0)
    pairs = list(zip(KEYS, CV_LABELS, strict=True))
    random.Random(3).shuffle(pairs)
    shuffled = repeated_stratified_kfold(
        [k for k, _ in pairs], [y for _, y in pairs], folds=5, repeats=3, seed=0
    )
    assert shuffled == base
    assert repeated_stratified_kfold(KEYS, CV_LABELS, folds=5, repeats=5, seed=0)[:3] == base
    assert repeated_stratified_kfold(KEYS, CV_LABELS, folds=5, repeats=3, seed=1) != base
    test_sets = [{frozenset(test) for _, test in repeat} for repeat in base]
    assert test_sets[0] != test_sets[1] != test_sets[2]


def test_split_errors():
    with pytest.raises(ValueError, match="fewer members than 5 folds: 1: 4"):
        repeated_stratified_kfold(KEYS[:10], [1] * 4 + [0] * 6, folds=5)
    with pytest.raises(ValueError, match="duplicate"):
        repeated_stratified_kfold(["a", "a", "b", "c"], [0, 0, 1, 1], folds=2)
    with pytest.raises(ValueError, match="labels"):
        repeated_stratified_kfold(["a", "b"], [0], folds=2)


def _class_counts(folds, label_of, classes) -> list[tuple[int, ...]]:
    """Per test fold, how many members of each class it holds; sorted (fold order is free)."""
    counts = [Counter(label_of[k] for k in test) for test in folds]
    return sorted(tuple(c[label] for label in classes) for c in counts)


def _random_cases(n_cases: int = 40):
    """Keys and 2-3 classes in random order, except that the classes first appear in sorted
    order: sklearn deals classes in order of first appearance, ours in sorted order (either
    is a valid stratification; this makes the two comparable fold by fold)."""
    rng = np.random.default_rng(11)
    for _ in range(n_cases):
        folds = int(rng.integers(2, 8))
        n_classes = int(rng.integers(2, 4))
        sizes = [int(rng.integers(folds, 60)) - 1 for _ in range(n_classes)]
        rest = [c for c, size in enumerate(sizes) for _ in range(size)]
        rng.shuffle(rest)
        labels = list(range(n_classes)) + rest
        keys = [f"k{i:03d}" for i in range(len(labels))]
        yield keys, labels, folds


def _sklearn_tests(keys, labels, folds, repeats, order=None):
    order = list(range(len(keys))) if order is None else order
    split = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=3).split(
        np.zeros(len(order)), [labels[i] for i in order]
    )
    tests = [[keys[order[i]] for i in test] for _, test in split]
    return [tests[r * folds : (r + 1) * folds] for r in range(repeats)]


def test_each_fold_holds_as_many_of_each_class_as_sklearns():
    for keys, labels, folds in _random_cases():
        label_of = dict(zip(keys, labels, strict=True))
        classes = sorted(set(labels))
        ours = repeated_stratified_kfold(keys, labels, folds=folds, repeats=2, seed=3)
        for repeat, sk_tests in zip(ours, _sklearn_tests(keys, labels, folds, 2), strict=True):
            assert _class_counts([t for _, t in repeat], label_of, classes) == _class_counts(
                sk_tests, label_of, classes
            )


def test_per_class_spread_and_fold_sizes_match_sklearn_in_any_class_order():
    rng = random.Random(2)
    for keys, labels, folds in _random_cases(20):
        label_of = dict(zip(keys, labels, strict=True))
        order = list(range(len(keys)))
        rng.shuffle(order)  # sklearn now meets the classes in another order
        ((repeat,), (sk_tests,)) = (
            repeated_stratified_kfold(keys, labels, folds=folds, repeats=1, seed=3),
            _sklearn_tests(keys, labels, folds, 1, order),
        )
        tests = [t for _, t in repeat]
        assert sorted(map(len, tests)) == sorted(map(len, sk_tests))
        for label in set(labels):
            ours = sorted(sum(label_of[k] == label for k in t) for t in tests)
            assert ours == sorted(sum(label_of[k] == label for k in t) for t in sk_tests)


def test_every_key_is_tested_once_per_repeat_as_in_sklearn():
    for keys, labels, folds in _random_cases(10):
        sk = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        sk_tested = sorted(i for _, test in sk.split(np.zeros(len(labels)), labels) for i in test)
        assert sk_tested == list(range(len(keys)))
        for repeat in repeated_stratified_kfold(keys, labels, folds=folds, repeats=3, seed=5):
            assert len(repeat) == folds
            assert sorted(k for _, test in repeat for k in test) == sorted(keys)
            for train, test in repeat:
                assert sorted(train + test) == sorted(keys) and not set(train) & set(test)
                assert train == sorted(train) and test == sorted(test)


def test_repeats_differ_like_sklearns_do():
    keys, labels, folds = next(_random_cases(1))
    repeats = repeated_stratified_kfold(keys, labels, folds=folds, repeats=4, seed=0)
    partitions = {frozenset(frozenset(test) for _, test in repeat) for repeat in repeats}
    assert len(partitions) == 4


@pytest.mark.parametrize("folds", [2, 5])
def test_string_keys_need_no_numeric_index(folds):
    keys = [f"10.0.0.{i}@2015-05-{17 + i % 3}" for i in range(20)]
    labels = [i % 2 for i in range(20)]
    (repeat,) = repeated_stratified_kfold(keys, labels, folds=folds, repeats=1)
    assert sorted(k for _, test in repeat for k in test) == sorted(keys)
