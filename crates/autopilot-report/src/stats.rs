//! Small statistics for reports: proportions with Wilson 95% intervals, means.

/// A proportion with its Wilson score 95% confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    pub successes: u64,
    pub trials: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

const Z_95: f64 = 1.959_963_984_540_054;

impl Proportion {
    pub fn wilson(successes: u64, trials: u64) -> Proportion {
        if trials == 0 {
            return Proportion {
                successes,
                trials,
                rate: 0.0,
                low: 0.0,
                high: 0.0,
            };
        }
        let n = trials as f64;
        let p = successes as f64 / n;
        let z2 = Z_95 * Z_95;
        let denominator = 1.0 + z2 / n;
        let center = (p + z2 / (2.0 * n)) / denominator;
        let half = Z_95 * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denominator;
        Proportion {
            successes,
            trials,
            rate: p,
            low: (center - half).max(0.0),
            high: (center + half).min(1.0),
        }
    }
}

impl Proportion {
    /// The rate as a percentage with one decimal: `26.5%`.
    pub fn percent(&self) -> String {
        format!("{:.1}%", self.rate * 100.0)
    }

    /// The interval as percentages with one decimal: `14.6–43.1%`.
    pub fn interval_percent(&self) -> String {
        format!("{:.1}–{:.1}%", self.low * 100.0, self.high * 100.0)
    }
}

/// The mean of the values, `None` when there are none.
pub fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, count) = values
        .into_iter()
        .fold((0.0, 0u64), |(s, c), v| (s + v, c + 1));
    (count > 0).then(|| sum / count as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        // 9 of 30 (the published gpt-4o batch): 0.30 with a 95% interval of about 0.167–0.479.
        let p = Proportion::wilson(9, 30);
        assert!((p.rate - 0.3).abs() < 1e-12);
        assert!((p.low - 0.1666).abs() < 1e-3, "{p:?}");
        assert!((p.high - 0.4788).abs() < 1e-3, "{p:?}");
        let none = Proportion::wilson(0, 30);
        assert!(
            none.low.abs() < 1e-12 && (none.high - 0.1135).abs() < 1e-3,
            "{none:?}"
        );
        assert!(Proportion::wilson(0, 0).high.abs() < f64::EPSILON);
    }

    #[test]
    fn mean_of_nothing_is_none() {
        assert_eq!(mean([]), None);
        assert_eq!(mean([1.0, 2.0, 6.0]), Some(3.0));
    }
}
