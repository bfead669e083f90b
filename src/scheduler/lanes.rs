//! Lane choice: `otp` first, then `request`, `notification`, `bulk` — except that a lower lane
//! with due work earns credit on every pick it waits through (its configured share), and a
//! lane holding a whole pick of credit is served next. So a busy `otp` lane can never starve
//! `bulk` completely, and an idle lane does not bank credit for later bursts.

/// Rounding slack, so that ten shares of 0.1 make a whole pick.
const CREDIT_SLACK: f64 = 1e-9;

/// Chooses the lane of each pick.
#[derive(Clone, Debug)]
pub struct LanePicker {
    shares: [f64; 4],
    credit: [f64; 4],
}

impl LanePicker {
    /// A picker with these minimum shares per lane (lane 0's share is ignored).
    pub fn new(shares: [f64; 4]) -> Self {
        LanePicker {
            shares,
            credit: [0.0; 4],
        }
    }

    /// Chooses the lane for the next pick among lanes with due work (`due[lane]`), and
    /// accounts for it. None when no lane has due work.
    pub fn choose(&mut self, due: [bool; 4]) -> Option<u8> {
        for (lane, &waiting) in due.iter().enumerate().skip(1) {
            if waiting {
                self.credit[lane] += self.shares[lane];
            } else {
                self.credit[lane] = 0.0;
            }
        }
        let owed = (1..4)
            .filter(|&l| due[l] && self.credit[l] >= 1.0 - CREDIT_SLACK)
            .max_by(|&a, &b| self.credit[a].total_cmp(&self.credit[b]).then(b.cmp(&a)));
        if let Some(lane) = owed {
            self.credit[lane] -= 1.0;
            return Some(lane as u8);
        }
        let first = (0..4).find(|&l| due[l])?;
        // a lane served in its own right is not starved
        self.credit[first] = 0.0;
        Some(first as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picks(picker: &mut LanePicker, due: [bool; 4], n: usize) -> [usize; 4] {
        let mut count = [0; 4];
        for _ in 0..n {
            count[picker.choose(due).unwrap() as usize] += 1;
        }
        count
    }

    #[test]
    fn higher_lanes_go_first_without_shares() {
        let mut p = LanePicker::new([0.0; 4]);
        assert_eq!(picks(&mut p, [true, true, true, true], 100), [100, 0, 0, 0]);
        assert_eq!(p.choose([false, false, true, true]), Some(2));
        assert_eq!(p.choose([false; 4]), None);
    }

    #[test]
    fn a_starved_lane_gets_its_share_and_no_more() {
        let shares = [0.0, 0.0, 0.1, 0.02];
        let mut p = LanePicker::new(shares);
        let n = 1000;
        let count = picks(&mut p, [true, false, true, true], n);
        for lane in 2..4 {
            let expected = n as f64 * shares[lane];
            assert!(
                (count[lane] as f64 - expected).abs() <= 1.0,
                "lane {lane}: {count:?}"
            );
        }
        assert_eq!(count.iter().sum::<usize>(), n);
    }

    #[test]
    fn idle_lanes_do_not_bank_credit() {
        let mut p = LanePicker::new([0.0, 0.0, 0.0, 0.5]);
        picks(&mut p, [true, false, false, false], 100);
        assert_eq!(p.choose([true, false, false, true]), Some(0));
        assert_eq!(p.choose([true, false, false, true]), Some(3));
    }
}
