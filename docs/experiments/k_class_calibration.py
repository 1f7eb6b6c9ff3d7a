"""Which K-class calibration of SVM decision values (docs/design.md, "More than two classes").

Cross-validated log-loss within the validation split of five calibrators fitted on the K
decision values of bow's LinearSVC and w2v's SVC, on ../shared/data/vader_amazon_snippets.csv
(stars: 5 classes; sentiment: 3). Run from the project root:
``python docs/experiments/k_class_calibration.py``.
"""

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from classifiers import BowSvmClassifier, Word2VecSvmClassifier, tokenize
from dataset import load_reviews, stratified_split

DATA = "../shared/data/vader_amazon_snippets.csv"


def nll(p, y):
    return float(-np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1)).mean())


def fit_temperature(d, y, bias):
    def loss(w):
        z = d * np.exp(w[0]) + (np.r_[0, w[1:]] if bias else 0)
        return -log_softmax(z, axis=1)[np.arange(len(y)), y].mean()

    w = minimize(loss, np.zeros(d.shape[1] if bias else 1), method="L-BFGS-B").x
    return lambda e: softmax(e * np.exp(w[0]) + (np.r_[0, w[1:]] if bias else 0), axis=1)


def fit_multinomial(d, y, C):
    return LogisticRegression(C=C, max_iter=1000).fit(d, y).predict_proba


def fit_ovr_platt(d, y):
    models = [LogisticRegression(C=1e6).fit(d[:, [k]], (y == k).astype(int)) for k in range(d.shape[1])]

    def proba(e):
        p = np.column_stack([m.predict_proba(e[:, [k]])[:, 1] for k, m in enumerate(models)])
        return p / p.sum(1, keepdims=True)

    return proba


METHODS = {
    "temperature": lambda d, y: fit_temperature(d, y, False),
    "temperature+bias (vector scaling)": lambda d, y: fit_temperature(d, y, True),
    "multinomial LR (C=1)": lambda d, y: fit_multinomial(d, y, 1.0),
    "multinomial LR (C=1e6)": lambda d, y: fit_multinomial(d, y, 1e6),
    "one-vs-rest Platt, normalised": fit_ovr_platt,
}


def cv_loss(d, y, method):
    folds = StratifiedKFold(5, shuffle=True, random_state=0).split(d, y)
    return np.mean([nll(METHODS[method](d[tr], y[tr])(d[te]), y[te]) for tr, te in folds])


def decisions(name, train_x, train_y, val_x, test_x):
    """Validation and test decision values of bow's or w2v's SVM with the defaults."""
    if name == "bow":
        vectorizer = BowSvmClassifier(random_state=42)._make_vectorizer()
        svm = LinearSVC(C=0.5, random_state=42).fit(vectorizer.fit_transform(train_x), train_y)
        return svm.decision_function(vectorizer.transform(val_x)), svm.decision_function(vectorizer.transform(test_x))
    w2v = Word2VecSvmClassifier(random_state=42)
    w2v.wv_ = w2v._word_vectors([tokenize(t) for t in train_x])
    scaler = StandardScaler().fit(w2v._embed(train_x)[0])
    svm = SVC(C=4.0, gamma="scale", random_state=42).fit(scaler.transform(w2v._embed(train_x)[0]), train_y)
    return tuple(svm.decision_function(scaler.transform(w2v._embed(x)[0])) for x in (val_x, test_x))


def main():
    for column in ("stars", "sentiment"):
        data = load_reviews(DATA, label_column=column)
        tr, va, te = stratified_split(data.labels, seed=42)

        def pick(idx, data=data):
            return [data.texts[i] for i in idx]

        for name in ("bow", "w2v"):
            dv, dt = decisions(name, pick(tr), data.labels[tr], pick(va), pick(te))
            yv, yt = data.labels[va], data.labels[te]
            print(f"{column} {name} (validation {len(yv)}, test {len(yt)}):")
            for method in METHODS:
                test_loss = nll(METHODS[method](dv, yv)(dt), yt)
                print(f"   {method:38s} validation 5-fold CV log-loss {cv_loss(dv, yv, method):.4f}   "
                      f"(test log-loss, fitted on all validation: {test_loss:.4f})")


if __name__ == "__main__":
    main()
