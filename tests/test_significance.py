"""Intervals and verdicts of gn_det.significance against published references: a printed t table
and R's documented Welch t-test of the sleep data."""
import math

import pytest

from gn_det.significance import (INCONCLUSIVE, NOT_REPRODUCED, REPRODUCED, Interval,
                                 contrast_interval, difference_interval, t_cdf, t_quantile,
                                 verdict)

# Student t table (e.g. any statistics textbook's appendix), two-sided 95% and 99%: 0.975 and 0.995
# quantiles, printed to 3 decimals.
T_TABLE = [(0.975, 1, 12.706), (0.975, 2, 4.303), (0.975, 3, 3.182), (0.975, 4, 2.776),
           (0.975, 5, 2.571), (0.975, 8, 2.306), (0.975, 10, 2.228), (0.975, 30, 2.042),
           (0.995, 2, 9.925), (0.995, 10, 3.169), (0.975, math.inf, 1.960)]

# R's datasets::sleep, extra hours of sleep with drug 1 and drug 2 (Student, 1908), and R's output
# of the example in ?t.test, t.test(extra ~ group, data = sleep): Welch Two Sample t-test,
# t = -1.8608, df = 17.776, p-value = 0.07939, 95 percent confidence interval -3.3654832 0.2054832.
SLEEP_DRUG_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_DRUG_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


@pytest.mark.parametrize("p, df, printed", T_TABLE)
def test_t_quantile_matches_the_printed_t_table(p, df, printed):
    assert t_quantile(p, df) == pytest.approx(printed, abs=5e-4)


def test_welch_interval_matches_r_t_test_on_the_sleep_data():
    interval = difference_interval(SLEEP_DRUG_1, SLEEP_DRUG_2)

    assert interval.estimate == pytest.approx(0.75 - 2.33)
    assert interval.df == pytest.approx(17.776, abs=5e-4)
    assert (interval.low, interval.high) == pytest.approx((-3.3654832, 0.2054832), abs=5e-8)
    standard_error = (interval.high - interval.estimate) / t_quantile(0.975, interval.df)
    t_statistic = interval.estimate / standard_error
    assert t_statistic == pytest.approx(-1.8608, abs=5e-5)
    assert 2 * t_cdf(t_statistic, interval.df) == pytest.approx(0.07939, abs=5e-6)


def test_four_cell_contrast_with_equal_spreads_has_8_degrees_of_freedom():
    # Each cell: 3 seeds, sample variance 1. Variance of the contrast 4 x 1/3, Satterthwaite's
    # df = (4/3)^2 / (4 x (1/3)^2 / 2) = 8.
    cells = [[0.0, 1.0, 2.0], [4.0, 5.0, 6.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]]

    interval = contrast_interval(cells, [1, -1, -1, 1])

    assert interval.estimate == pytest.approx(1 - 5 - 2 + 3)
    assert interval.df == pytest.approx(8.0)
    half_width = 2.306 * math.sqrt(4 / 3)
    assert interval.low == pytest.approx(-3 - half_width, abs=1e-3)
    assert interval.high == pytest.approx(-3 + half_width, abs=1e-3)


def test_cells_not_in_the_contrast_do_not_count():
    with_unused = contrast_interval([SLEEP_DRUG_1, [1.0], SLEEP_DRUG_2], [1, 0, -1])

    assert with_unused == difference_interval(SLEEP_DRUG_1, SLEEP_DRUG_2)


@pytest.mark.parametrize("low, high, expected_sign, expected", [
    (0.5, 2.0, 1, REPRODUCED), (-2.0, -0.5, 1, NOT_REPRODUCED), (-0.5, 2.0, 1, INCONCLUSIVE),
    (-2.0, -0.5, -1, REPRODUCED), (0.5, 2.0, -1, NOT_REPRODUCED), (-2.0, 0.5, -1, INCONCLUSIVE),
    (0.0, 2.0, 1, INCONCLUSIVE),
])
def test_verdict_needs_the_interval_to_exclude_zero_in_the_papers_direction(
        low, high, expected_sign, expected):
    interval = Interval((low + high) / 2, low, high, df=4.0)

    assert verdict(interval, expected_sign) == expected


def test_the_sleep_difference_is_inconclusive_either_way():
    interval = difference_interval(SLEEP_DRUG_2, SLEEP_DRUG_1)

    assert verdict(interval, 1) == verdict(interval, -1) == INCONCLUSIVE
    assert interval.text("h") == "+1.6 h (95% CI -0.2 to +3.4)"


def test_one_seed_gives_an_unbounded_interval_and_no_verdict():
    interval = difference_interval([30.0], [10.0, 11.0])

    assert interval.estimate == pytest.approx(19.5)
    assert (interval.low, interval.high) == (-math.inf, math.inf)
    assert verdict(interval) == INCONCLUSIVE
    assert "fewer than 2 seeds" in interval.text()


def test_seeds_that_all_agree_give_the_point():
    interval = difference_interval([3.0, 3.0, 3.0], [1.0, 1.0])

    assert (interval.low, interval.estimate, interval.high) == (2.0, 2.0, 2.0)
    assert verdict(interval) == REPRODUCED


def test_quantile_outside_the_upper_half_is_refused():
    with pytest.raises(ValueError, match="0.5 < p < 1"):
        t_quantile(0.3, 5)
