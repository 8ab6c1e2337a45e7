//! The platform fee and how a refund returns part of it, in whole yen.
//!
//! Rounding rule (written once, here): the fee of an order is
//! `floor(total × basis_points / 10 000) + fixed`, and never more than the
//! total. With the defaults (560 bp, ¥22) a ¥1,000 order pays ¥56 + ¥22 =
//! ¥78 and the seller receives ¥922; a ¥1,999 order pays floor(111.944) +
//! 22 = ¥133. Rounding down favours the seller by less than one yen.
//!
//! A refund returns the fee in proportion to what remains: after refunds
//! totalling `r` of a total `t`, the fee kept is `floor(fee × (t − r) / t)`,
//! so a full refund returns the whole fee (the ¥22 included) and partial
//! refunds add up to exactly the same as one refund of their sum. The
//! products are computed in `i128`, so no total can overflow them.

use anshin_domain::Yen;

/// What the platform charges per order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeSchedule {
    /// Hundredths of a percent of the total (560 = 5.6 %).
    pub basis_points: u32,
    /// Yen per order.
    pub fixed: Yen,
}

impl FeeSchedule {
    /// The fee of an order of `total` (see the module doc). Zero for a
    /// total of zero or less.
    pub fn fee(&self, total: Yen) -> Yen {
        if total.amount() <= 0 {
            return Yen::ZERO;
        }
        let t = i128::from(total.amount());
        let variable = t * i128::from(self.basis_points) / 10_000;
        let fee = (variable + i128::from(self.fixed.amount().max(0))).min(t);
        Yen::new(i64::try_from(fee).unwrap_or(total.amount()))
    }
}

/// The part of the fee kept once `refunded` of `total` went back.
pub fn fee_kept(fee: Yen, total: Yen, refunded: Yen) -> Yen {
    if total.amount() <= 0 {
        return Yen::ZERO;
    }
    let remaining = i128::from((total.amount() - refunded.amount()).clamp(0, total.amount()));
    let kept = i128::from(fee.amount()) * remaining / i128::from(total.amount());
    Yen::new(i64::try_from(kept).unwrap_or(0))
}

/// The fee a refund of `amount` returns, after `before` was refunded.
pub fn fee_returned(fee: Yen, total: Yen, before: Yen, amount: Yen) -> Yen {
    let after = before.checked_add(amount).unwrap_or(total);
    Yen::new(fee_kept(fee, total, before).amount() - fee_kept(fee, total, after).amount())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const DEFAULT: FeeSchedule = FeeSchedule {
        basis_points: 560,
        fixed: Yen::new(22),
    };

    #[test]
    fn the_written_examples_hold() {
        assert_eq!(DEFAULT.fee(Yen::new(1000)), Yen::new(78));
        assert_eq!(DEFAULT.fee(Yen::new(1999)), Yen::new(133));
        assert_eq!(DEFAULT.fee(Yen::new(50)), Yen::new(24));
        assert_eq!(
            DEFAULT.fee(Yen::new(10)),
            Yen::new(10),
            "never more than the total"
        );
        assert_eq!(DEFAULT.fee(Yen::ZERO), Yen::ZERO);
        assert_eq!(
            fee_returned(Yen::new(78), Yen::new(1000), Yen::ZERO, Yen::new(1000)),
            Yen::new(78)
        );
        assert_eq!(
            fee_returned(Yen::new(78), Yen::new(1000), Yen::ZERO, Yen::new(500)),
            Yen::new(39)
        );
    }

    proptest! {
        #[test]
        fn the_fee_is_within_the_total_and_grows_with_it(t in 1i64..=2_000_000_000, bp in 0u32..=5000, fixed in 0i64..=1000) {
            let s = FeeSchedule { basis_points: bp, fixed: Yen::new(fixed) };
            let f = s.fee(Yen::new(t));
            prop_assert!(f.amount() >= 0 && f.amount() <= t);
            prop_assert!(s.fee(Yen::new(t + 1)) >= f);
        }

        /// However a total is refunded in parts, the fee returned adds up
        /// to the whole fee, and each part's fee is within the part.
        #[test]
        fn partial_refunds_return_exactly_the_fee(t in 50i64..=10_000_000, parts in proptest::collection::vec(1i64..=1_000_000, 1..8)) {
            let total = Yen::new(t);
            let fee = DEFAULT.fee(total);
            let mut refunded = Yen::ZERO;
            let mut returned = 0i64;
            for p in parts {
                let left = t - refunded.amount();
                if left == 0 { break; }
                let amount = Yen::new(p.min(left));
                let r = fee_returned(fee, total, refunded, amount);
                prop_assert!(r.amount() >= 0 && r.amount() <= amount.amount());
                returned += r.amount();
                refunded = Yen::new(refunded.amount() + amount.amount());
            }
            let rest = Yen::new(t - refunded.amount());
            if rest.amount() > 0 {
                returned += fee_returned(fee, total, refunded, rest).amount();
            }
            prop_assert_eq!(returned, fee.amount());
        }
    }
}
