//! The scalar arithmetic of the CPU kernels, inlined into their loops: lane-wise reductions,
//! a vectorisable `exp`, GELU (exact and tanh), SiLU and their derivatives.

/// Lanes of the reductions below: independent partial results the compiler keeps in vector
/// registers (a single running value would serialise the loop).
const LANES: usize = 8;

/// The largest value, `None` for an empty slice.
#[inline(always)]
pub(super) fn lane_max(xs: &[f32]) -> Option<f32> {
    let mut lanes = [f32::MIN; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (m, &x) in lanes.iter_mut().zip(chunk) {
            if x > *m {
                *m = x;
            }
        }
    }
    let max = lanes.into_iter().chain(rest.iter().copied()).reduce(f32::max);
    max.filter(|_| !xs.is_empty())
}

/// The sum, in `LANES` partial sums.
#[inline(always)]
pub(super) fn lane_sum(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (s, &x) in lanes.iter_mut().zip(chunk) {
            *s += x;
        }
    }
    lanes.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// `eˣ` for `x ≤ 0` to within 2 ulp (Cephes' expf polynomial after reduction by ln 2), in
/// straight-line arithmetic the compiler can vectorise; `e^x` below `-87.3` is 0.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    // Adding 1.5·2²³ rounds to an integer n held in the low mantissa bits: n = t − 1.5·2²³, and
    // 2ⁿ's exponent bits are t's bits minus those of 1.5·2²³, plus the bias 127 (n ≥ −126 here).
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.4);
    let t = x * std::f32::consts::LOG2_E + ROUND;
    let n = t - ROUND;
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r + 1.666_666_5e-1)
        * r
        + 0.5;
    let e = p * r * r + r + 1.0;
    let scaled = e * f32::from_bits(t.to_bits().wrapping_sub(0x4B40_0000 - 127) << 23);
    if x < -87.3 { 0.0 } else { scaled }
}

/// The standard normal CDF `Φ(x) = (1 + erf(x/√2)) / 2`, as `erfc(|x|/√2) / 2` for `x < 0` and
/// `1 − erfc(x/√2) / 2` otherwise, so that it keeps full relative precision in both tails;
/// `erfc` is the Chebyshev fit of Numerical Recipes (`erfcc`, relative error < 1.2e-7).
#[inline(always)]
fn normal_cdf(x: f32) -> f32 {
    let z = x.abs() * std::f32::consts::FRAC_1_SQRT_2;
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_204 + t * (1.488_515_9 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let half_erfc = 0.5 * t * exp(-z * z + poly);
    if x < 0.0 { half_erfc } else { 1.0 - half_erfc }
}

/// Exact (erf) GELU, `x · Φ(x)`.
#[inline(always)]
pub(super) fn gelu(x: f32) -> f32 {
    x * normal_cdf(x)
}

/// `Φ(x) + x · φ(x)`.
#[inline(always)]
pub(super) fn gelu_derivative(x: f32) -> f32 {
    normal_cdf(x) + x * exp(-0.5 * x * x) * INV_SQRT_2PI
}

/// Tanh-approximated GELU, as Burn's `gelu_approximate`.
#[inline(always)]
pub(super) fn gelu_tanh(x: f32) -> f32 {
    (x * (((x + x * x * x * 0.044_715) * SQRT_2_OVER_PI).tanh() + 1.0)) * 0.5
}

/// Derivative of [`gelu_tanh`].
#[inline(always)]
pub(super) fn gelu_tanh_derivative(x: f32) -> f32 {
    let t = ((x + x * x * x * 0.044_715) * SQRT_2_OVER_PI).tanh();
    let slope = (3.0 * 0.044_715 * x * x + 1.0) * SQRT_2_OVER_PI;
    (t + 1.0) * 0.5 + x * 0.5 * (1.0 - t * t) * slope
}

/// Derivative of `x · sigmoid(x)`.
#[inline(always)]
pub(super) fn silu_derivative(x: f32) -> f32 {
    let s = sigmoid(x);
    s * (1.0 + x * (1.0 - s))
}

/// The logistic function, stable for large |x|.
#[inline(always)]
pub(super) fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// √(2/π).
const SQRT_2_OVER_PI: f32 = 0.797_884_6;
/// 1/√(2π).
const INV_SQRT_2PI: f32 = 0.398_942_3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_two_ulp_of_libm() {
        for i in 0..=200_000 {
            let x = -90.0 * i as f32 / 200_000.0;
            let (got, want) = (exp(x), x.exp());
            if x < -87.3 {
                assert!(want < 1.3e-38 && got == 0.0, "{x}: {got} vs {want}");
                continue;
            }
            let ulps = (got.to_bits() as i64 - want.to_bits() as i64).abs();
            assert!(ulps <= 2, "exp({x}) = {got}, libm {want} ({ulps} ulp)");
        }
    }

    /// erf in f64 by its Taylor series (|x| ≤ 3) or continued fraction of erfc (beyond).
    fn erf64(x: f64) -> f64 {
        if x.abs() > 3.0 {
            let z = x.abs();
            let mut f = 0.0;
            for k in (1..60).rev() {
                f = f64::from(k) / 2.0 / (z + f);
            }
            let erfc = (-z * z).exp() / std::f64::consts::PI.sqrt() / (z + f);
            return x.signum() * (1.0 - erfc);
        }
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / f64::from(n);
            sum += term / f64::from(2 * n + 1);
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    /// Against f64 references at the same f32 inputs, in units of `max(|value|, 1)`: relative
    /// where the values are large, absolute where they are small (GELU's derivative crosses 0).
    #[test]
    fn gelu_and_its_derivative_match_f64_references() {
        let mut worst = 0.0f64;
        for i in 0..=40_000 {
            let x = f64::from((-12.0 + 24.0 * f64::from(i) / 40_000.0) as f32);
            let cdf = 0.5 * (1.0 + erf64(x / std::f64::consts::SQRT_2));
            let want = [
                x * cdf,
                cdf + x * (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt(),
            ];
            let got = [gelu(x as f32), gelu_derivative(x as f32)].map(f64::from);
            for (g, w) in got.into_iter().zip(want) {
                worst = worst.max((g - w).abs() / w.abs().max(1.0));
            }
        }
        eprintln!("gelu: worst error {worst:.2e}");
        assert!(worst < 3e-7, "worst error {worst}");
    }
}
