"""The TF-IDF + logistic-regression baseline, trained on the same splits, stored without pickles.

Saved as ``baseline.json`` (vocabulary, settings, thresholds) and ``baseline.safetensors`` (idf and
coefficients), so it reloads without unpickling anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .calibration import fit_thresholds
from .data import Example

_VECTORIZER = {"ngram_range": (1, 2), "sublinear_tf": True, "min_df": 2, "max_features": 50_000}


class TfidfBaseline:
    """One multinomial logistic regression for topic, one binary per category, over shared TF-IDF."""

    def __init__(self, topics: list[str], categories: list[str]) -> None:
        self.topics, self.categories = list(topics), list(categories)
        self.vectorizer = None
        self.topic_coef = self.topic_bias = None
        self.cat_coef = np.zeros((0,))
        self.cat_bias = np.zeros((0,))
        self.thresholds: dict[str, float] = {}

    def fit(self, train: list[Example], validation: list[Example], seed: int, min_recall: float) -> TfidfBaseline:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer = TfidfVectorizer(**_VECTORIZER)
        x = self.vectorizer.fit_transform([e.text for e in train])
        dim = x.shape[1]
        rows = [i for i, e in enumerate(train) if e.topic]
        clf = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", random_state=seed)
        clf.fit(x[rows], [self.topics.index(train[i].topic) for i in rows])
        self.topic_coef = np.zeros((len(self.topics), dim))
        self.topic_bias = np.full(len(self.topics), -1e4)
        self.topic_coef[clf.classes_] = clf.coef_ if len(clf.classes_) > 2 else np.vstack([-clf.coef_, clf.coef_])
        self.topic_bias[clf.classes_] = clf.intercept_ if len(clf.classes_) > 2 else [-clf.intercept_[0],
                                                                                        clf.intercept_[0]]
        self.cat_coef = np.zeros((len(self.categories), dim))
        self.cat_bias = np.full(len(self.categories), -1e4)
        for k, c in enumerate(self.categories):
            rows = [i for i, e in enumerate(train) if c in e.sensitivity]
            y = [train[i].sensitivity[c] for i in rows]
            if len(set(y)) < 2:
                continue
            clf = LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced", random_state=seed)
            clf.fit(x[rows], y)
            self.cat_coef[k], self.cat_bias[k] = clf.coef_[0], clf.intercept_[0]
        _, scores = self.predict([e.text for e in validation])
        targets = np.array([[e.sensitivity.get(c, 0) for c in self.categories] for e in validation])
        mask = np.array([[c in e.sensitivity for c in self.categories] for e in validation], dtype=float)
        self.thresholds = fit_thresholds(scores, targets, mask, self.categories, min_recall)
        return self

    def predict(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Topic probabilities and category scores, in label order."""
        x = self.vectorizer.transform(texts)
        z = x @ self.topic_coef.T + self.topic_bias
        z = np.exp(z - z.max(1, keepdims=True))
        from scipy.special import expit

        s = expit(x @ self.cat_coef.T + self.cat_bias)
        return z / z.sum(1, keepdims=True), s

    def save(self, folder: Path) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        meta = {"topics": self.topics, "categories": self.categories, "thresholds": self.thresholds,
                "vectorizer": _VECTORIZER,
                "vocabulary": {t: int(i) for t, i in self.vectorizer.vocabulary_.items()}}
        (folder / "baseline.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        tensors = {"idf": self.vectorizer.idf_, "topic_coef": self.topic_coef, "topic_bias": self.topic_bias,
                   "cat_coef": self.cat_coef, "cat_bias": self.cat_bias}
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
                  str(folder / "baseline.safetensors"))

    @classmethod
    def load(cls, folder: Path) -> TfidfBaseline:
        from safetensors.numpy import load_file
        from sklearn.feature_extraction.text import TfidfVectorizer

        meta = json.loads((Path(folder) / "baseline.json").read_text(encoding="utf-8"))
        tensors = load_file(str(Path(folder) / "baseline.safetensors"))
        self = cls(meta["topics"], meta["categories"])
        settings = dict(meta["vectorizer"], ngram_range=tuple(meta["vectorizer"]["ngram_range"]))
        self.vectorizer = TfidfVectorizer(**settings, vocabulary=meta["vocabulary"])
        self.vectorizer.idf_ = tensors["idf"]
        self.topic_coef, self.topic_bias = tensors["topic_coef"], tensors["topic_bias"]
        self.cat_coef, self.cat_bias = tensors["cat_coef"], tensors["cat_bias"]
        self.thresholds = meta["thresholds"]
        return self
