"""Golden values for eval/src/fid.rs and eval/src/precision_recall.rs tests.

Run with numpy and scipy (used: numpy 2, scipy 1.17): python3 eval/tests/fd_golden.py
The two feature sets are closed-form formulas, rebuilt identically by `golden_sets()` in
eval/src/fid.rs. Printed values are committed in the Rust tests:
  FD with np.cov (unbiased) and scipy.linalg.sqrtm(S1 @ S2) (the pytorch-fid formula, no eps),
  unbiased MMD^2 with the KID kernel (x.y/d + 1)^3,
  precision/recall with k = 3 (k-th neighbour radius, self excluded, ties inside).
"""
import numpy as np
import scipy.linalg


def A(i, j):
    return np.sin(0.37 * (i + 1) * (j + 1) + 0.5 * j) + 0.3 * np.cos(1.1 * i + 2.0 * j) ** 2


def B(i, j):
    return 0.8 * np.sin(0.23 * (i + 1) * (j + 2) + 0.1 * j) + 0.5 * np.cos(0.7 * i * j + 1.0) + 0.2 * j


x = np.array([[A(i, j) for j in range(5)] for i in range(20)])
y = np.array([[B(i, j) for j in range(5)] for i in range(25)])

mu1, mu2 = x.mean(0), y.mean(0)
s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
covmean = scipy.linalg.sqrtm(s1 @ s2).real
fd = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)
print("fd", repr(float(fd)))


def mmd2(x, y):
    d = x.shape[1]
    k = lambda a, b: (a @ b.T / d + 1) ** 3
    m, n = len(x), len(y)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1)) - 2 * kxy.mean()


print("mmd2_poly", repr(float(mmd2(x, y))))


def precision_recall(real, fake, k=3):
    def radii(s):
        d = np.sqrt(((s[:, None, :] - s[None, :, :]) ** 2).sum(-1))
        return np.sort(d, axis=1)[:, k]  # column 0 is the zero self-distance

    rr, rf = radii(real), radii(fake)
    d = np.sqrt(((fake[:, None, :] - real[None, :, :]) ** 2).sum(-1))  # [fake, real]
    return float((d <= rr[None, :]).any(1).mean()), float((d.T <= rf[None, :]).any(1).mean())


print("precision, recall (k=3)", precision_recall(x, y))
