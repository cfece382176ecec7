"""Whether an ablation's difference between cells is larger than the seed spread: differences of
per-seed means with a 95% Welch t interval, and the verdict on a claim of the paper.

A cell is trained with several seeds; its seeds' metrics are one sample. The difference of two
cells (or any contrast: sum of weights x cell means, e.g. how much a gap grows) gets Welch's
t interval with Satterthwaite's degrees of freedom, so the cells need not share a variance. The
t quantile is computed here (regularized incomplete beta function, then bisection) because scipy
is not a dependency of gn_det.
"""
import math
import statistics
from dataclasses import dataclass

# Confidence of every interval the ablation reports.
CONFIDENCE = 0.95

REPRODUCED = "reproduced"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"

# Continued fraction of the incomplete beta function: terms, and when a term no longer matters.
_MAX_TERMS = 300
_TOLERANCE = 1e-15
_TINY = 1e-300


@dataclass(frozen=True)
class Interval:
    """An estimated difference and its confidence interval."""

    estimate: float
    low: float
    high: float
    # Satterthwaite's degrees of freedom; inf when no seed varied, 0 when a cell has one seed.
    df: float
    confidence: float = CONFIDENCE

    def text(self, unit=""):
        """E.g. "+3.1 box AP (95% CI +1.2 to +5.0)"."""
        unit = f" {unit}" if unit else ""
        if math.isinf(self.low) and math.isinf(self.high):
            return f"{self.estimate:+.1f}{unit} (no interval: a cell has fewer than 2 seeds)"
        return (f"{self.estimate:+.1f}{unit} ({self.confidence:.0%} CI {self.low:+.1f} to "
                f"{self.high:+.1f})")


def _incomplete_beta_fraction(a, b, x):
    # Lentz's evaluation of the continued fraction of I_x(a, b) (Numerical Recipes, betacf).
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _TINY else _TINY)
    result = d
    for m in range(1, _MAX_TERMS + 1):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > _TINY else _TINY)
            c = 1.0 + numerator / c
            c = c if abs(c) > _TINY else _TINY
            result *= c * d
        if abs(c * d - 1.0) < _TOLERANCE:
            break
    return result


def regularized_incomplete_beta(a, b, x):
    """I_x(a, b), the CDF of the Beta(a, b) distribution at ``x`` in [0, 1]."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                 + a * math.log(x) + b * math.log1p(-x))
    # The fraction converges fast only below the mean; above it, use I_x(a, b) = 1 - I_1-x(b, a).
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _incomplete_beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _incomplete_beta_fraction(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with ``df`` (> 0, not necessarily whole) degrees of freedom."""
    tail = 0.5 * regularized_incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p, df):
    """The ``p`` quantile (0.5 < p < 1) of Student's t with ``df`` degrees of freedom."""
    if not 0.5 < p < 1.0:
        raise ValueError(f"t_quantile needs 0.5 < p < 1, got {p}")
    if math.isinf(df):
        return statistics.NormalDist().inv_cdf(p)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        low, high = high, 2.0 * high
    # Bisection to float precision: the CDF is monotonic, and 200 halvings exhaust a double.
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return 0.5 * (low + high)


def contrast_interval(samples, weights, confidence=CONFIDENCE):
    """Interval of sum(weight x mean of sample) over cells, e.g. weights (1, -1) for the
    difference of two cells, (1, -1, -1, 1) for how much a difference grows.

    Welch-Satterthwaite: variance sum(w^2 s^2 / n), degrees of freedom
    variance^2 / sum((w^2 s^2 / n)^2 / (n - 1)). A cell with fewer than 2 seeds gives the
    unbounded interval; seeds that all agree give the point.
    """
    if len(samples) != len(weights):
        raise ValueError(f"{len(samples)} samples but {len(weights)} weights")
    used = [(list(sample), weight) for sample, weight in zip(samples, weights) if weight]
    if any(not sample for sample, _ in used):
        raise ValueError("every cell of a contrast needs at least one value")
    estimate = sum(weight * statistics.fmean(sample) for sample, weight in used)
    if any(len(sample) < 2 for sample, _ in used):
        return Interval(estimate, -math.inf, math.inf, 0.0, confidence)
    terms = [(weight ** 2 * statistics.variance(sample) / len(sample), len(sample) - 1)
             for sample, weight in used]
    variance = sum(term for term, _ in terms)
    if variance == 0.0:
        return Interval(estimate, estimate, estimate, math.inf, confidence)
    df = variance ** 2 / sum(term ** 2 / dof for term, dof in terms)
    half_width = t_quantile(0.5 + confidence / 2.0, df) * math.sqrt(variance)
    return Interval(estimate, estimate - half_width, estimate + half_width, df, confidence)


def difference_interval(first, second, confidence=CONFIDENCE):
    """Welch's interval of mean(first) - mean(second), each a list of per-seed values."""
    return contrast_interval([first, second], [1, -1], confidence)


def verdict(interval, expected_sign=1):
    """The verdict on a claim that the difference has ``expected_sign`` (+1: positive, -1:
    negative): reproduced when the interval excludes 0 on that side, not reproduced when it
    excludes 0 on the other, inconclusive when it contains 0."""
    if expected_sign not in (1, -1):
        raise ValueError(f"expected_sign must be 1 or -1, got {expected_sign}")
    low, high = expected_sign * interval.low, expected_sign * interval.high
    if min(low, high) > 0:
        return REPRODUCED
    if max(low, high) < 0:
        return NOT_REPRODUCED
    return INCONCLUSIVE
