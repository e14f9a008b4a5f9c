#!/usr/bin/python3
"""Peers of bench/hgbt.ts: times scikit-learn's HistGradientBoostingClassifier and xgboost's `hist`
booster on the data the TypeScript side wrote, and prints one JSON object.

    /usr/bin/python3 bench/hgbt-peers.py DIR

DIR holds meta.json and little-endian float64 files X_train, y_train, X_test, y_test.
"""
import json
import os
import sys
import time

import numpy as np
import xgboost as xgb
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score


def main():
    folder = sys.argv[1]
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    cols = meta["cols"]
    read = lambda name: np.fromfile(os.path.join(folder, name), dtype="<f8")
    X_train = read("X_train").reshape(-1, cols)
    X_test = read("X_test").reshape(-1, cols)
    y_train = read("y_train").astype(int)
    y_test = read("y_test").astype(int)
    p = meta["params"]

    sk = HistGradientBoostingClassifier(
        max_iter=p["max_iter"],
        learning_rate=p["learning_rate"],
        max_leaf_nodes=p["max_leaf_nodes"],
        max_depth=p["max_depth"],
        max_bins=p["max_bins"],
        min_samples_leaf=p["min_samples_leaf"],
        l2_regularization=p["l2_regularization"],
        early_stopping=False,
        random_state=0,
    )
    start = time.perf_counter()
    sk.fit(X_train, y_train)
    sk_seconds = time.perf_counter() - start
    sk_auc = roc_auc_score(y_test, sk.predict_proba(X_test)[:, 1])

    # Comparable settings: leaf-wise growth with the same leaf limit, bins (xgboost's max_bin counts
    # every bin), learning rate, trees and no L2 penalty; xgboost has no min_samples_leaf, only a
    # minimum hessian per child (min_child_weight, default 1).
    xg = xgb.XGBClassifier(
        n_estimators=p["max_iter"],
        learning_rate=p["learning_rate"],
        tree_method="hist",
        grow_policy="lossguide",
        max_leaves=p["max_leaf_nodes"],
        max_depth=0,
        max_bin=p["max_bins"] + 1,
        reg_lambda=p["l2_regularization"],
        n_jobs=2,
        random_state=0,
    )
    start = time.perf_counter()
    xg.fit(X_train, y_train)
    xg_seconds = time.perf_counter() - start
    xg_auc = roc_auc_score(y_test, xg.predict_proba(X_test)[:, 1])

    ours = os.path.join(folder, "mloop_proba")
    mloop_auc = roc_auc_score(y_test, np.fromfile(ours, dtype="<f8")) if os.path.exists(ours) else None
    print(json.dumps({"sklearn_s": sk_seconds, "sklearn_auc": sk_auc, "xgboost_s": xg_seconds, "xgboost_auc": xg_auc, "mloop_auc_by_sklearn": mloop_auc}))


if __name__ == "__main__":
    main()
