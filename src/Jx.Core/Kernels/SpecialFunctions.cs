using System.Runtime.Intrinsics;
namespace Jx;

/// <summary>Double-precision special functions that .NET lacks: erf, erfc, erf⁻¹, lgamma, digamma (used by the eager
/// kernels and by generated code).</summary>
/// <example><code>double e = SpecialFunctions.Erf(0.5); // 0.5204998778130465</code></example>
public static class SpecialFunctions
{
    private const double TwoOverSqrtPi = 1.1283791670955126;
    private const double OneOverSqrtPi = 0.5641895835477563;

    /// <summary>e^x − 1 without cancellation near 0 (Kahan's method: (u − 1)·x / log u with u = e^x).</summary>
    public static double Expm1(double x)
    {
        if (double.IsNaN(x)) return x;
        if (Math.Abs(x) <= 1e-4) return x + x * x * (0.5 + x * (1.0 / 6 + x * (1.0 / 24 + x / 120)));
        double u = Math.Exp(x);
        if (double.IsPositiveInfinity(u)) return u;
        double um1 = u - 1.0;
        if (um1 == -1.0) return -1.0;
        return um1 * (x / Math.Log(u));
    }

    /// <summary>log(1 + x) without cancellation near 0 (Kahan's method: log u · x / (u − 1) with u = 1 + x).</summary>
    public static double Log1p(double x)
    {
        if (double.IsNaN(x) || x < -1) return double.NaN;
        if (x == -1) return double.NegativeInfinity;
        if (double.IsPositiveInfinity(x)) return x;
        double u = 1.0 + x;
        if (u == 1.0) return x;
        return Math.Log(u) * (x / (u - 1.0));
    }

    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double ax = Math.Abs(x);
        if (ax < 2.0) return ErfSeries(x);
        return Math.Sign(x) * (1.0 - ErfcCf(ax));
    }

    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        // erfc(-x) = 2 - erfc(x): the series overflows for large negative x (e^{x^2} terms), the continued fraction does not.
        if (x <= -2.0) return 2.0 - ErfcCf(-x);
        if (x < 2.0) return 1.0 - ErfSeries(x);
        return ErfcCf(x);
    }

    // erf(x) = 2/√π e^{-x²} Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)): all terms positive, no cancellation.
    private static double ErfSeries(double x)
    {
        double x2 = x * x, term = x, sum = x;
        for (int n = 1; n < 200; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (Math.Abs(term) <= Math.Abs(sum) * 1e-17) break;
        }
        return TwoOverSqrtPi * Math.Exp(-x2) * sum;
    }

    // erfc(x) = e^{-x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))), modified Lentz, x ≥ 2.
    private static double ErfcCf(double x)
    {
        if (x > 27) return 0.0;
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int n = 1; n < 500; n++)
        {
            double a = n * 0.5;
            d = x + a * d;
            if (d == 0) d = tiny;
            c = x + a / c;
            if (c == 0) c = tiny;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return OneOverSqrtPi * Math.Exp(-x * x) / f;
    }

    /// <summary>erf⁻¹ for float32 results: Giles' single-precision approximation ("Approximating the erfinv function",
    /// 2010) — XLA's ErfInv32, the algorithm behind <c>jax.scipy.special.erfinv</c> and <c>jax.random.normal</c> in
    /// float32 — evaluated in double so that the only error is the approximation's (a few float32 ulp, no Newton steps).
    /// ±1 give ±∞; |y| &gt; 1 and NaN give NaN.</summary>
    /// <example><code>float x = SpecialFunctions.ErfInvSingle(0.5f); // 0.47693628f</code></example>
    public static float ErfInvSingle(float y)
    {
        double x = y;
        if (Math.Abs(x) == 1) return y * float.PositiveInfinity;
        return (float)(GilesPolynomial(-Math.Log((1 - x) * (1 + x))) * x);
    }

    /// <summary>Giles' polynomial p(w), w = −log((1−y)(1+y)); erf⁻¹(y) ≈ p(w)·y. Fused multiply-adds, as in the
    /// vector path (whose vector log can differ from Math.Log in the last double bit, so the two may differ by one
    /// float32 ulp in rare cases).</summary>
    private static double GilesPolynomial(double w)
    {
        var (c, t) = w < 5 ? (CentralCoefficients, w - 2.5) : (TailCoefficients, Math.Sqrt(w) - 3);
        double p = c[0];
        for (int k = 1; k < c.Length; k++) p = Math.FusedMultiplyAdd(p, t, c[k]);
        return p;
    }

    /// <summary><see cref="ErfInvSingle(float)"/> over a span, eight lanes at a time where Vector512 is accelerated
    /// (the eager float32 kernel; Random.Normal runs through it).</summary>
    internal static void ErfInvSingle(ReadOnlySpan<float> ys, Span<float> result)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var one = Vector512.Create(1.0);
            var five = Vector512.Create(5.0);
            for (; i + 8 <= ys.Length; i += 8)
            {
                var x = Vector512.Create(Vector256.Create(ys.Slice(i, 8)), default(Vector256<float>));
                var xd = Vector512.WidenLower(x);
                var w = -Vector512.Log((one - xd) * (one + xd));
                var central = w - Vector512.Create(2.5);
                var pc = Poly(central, CentralCoefficients);
                var tail = Vector512.Sqrt(w) - Vector512.Create(3.0);
                var pt = Poly(tail, TailCoefficients);
                var r = Vector512.ConditionalSelect(Vector512.LessThan(w, five), pc, pt) * xd;
                // |y| = 1: ±∞ (w is +∞ there and the tail polynomial would give NaN·y).
                r = Vector512.ConditionalSelect(Vector512.Equals(Vector512.Abs(xd), one), xd * double.PositiveInfinity, r);
                Vector256.Narrow(r.GetLower(), r.GetUpper()).CopyTo(result.Slice(i, 8));
            }
        }
        for (; i < ys.Length; i++) result[i] = ErfInvSingle(ys[i]);
    }

    private static readonly double[] CentralCoefficients =
        [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941];
    private static readonly double[] TailCoefficients =
        [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682];

    private static Vector512<double> Poly(Vector512<double> w, double[] c)
    {
        var p = Vector512.Create(c[0]);
        for (int k = 1; k < c.Length; k++) p = Vector512.FusedMultiplyAdd(p, w, Vector512.Create(c[k]));
        return p;
    }

    public static double ErfInv(double y)
    {
        if (double.IsNaN(y) || y < -1 || y > 1) return double.NaN;
        if (y == 1) return double.PositiveInfinity;
        if (y == -1) return double.NegativeInfinity;
        // Giles' single-precision approximation, then Newton steps in double.
        double p = GilesPolynomial(-Math.Log((1 - y) * (1 + y)));
        double x = p * y;
        for (int i = 0; i < 3; i++)
        {
            double err = (Math.Abs(y) > 0.9 ? -(Erfc(Math.Abs(x)) - (1 - Math.Abs(y))) * Math.Sign(y) : Erf(x) - y);
            double deriv = TwoOverSqrtPi * Math.Exp(-x * x);
            if (deriv == 0) break;
            x -= err / deriv;
        }
        return x;
    }

    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
        -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    public static double LGamma(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (double.IsInfinity(x)) return double.PositiveInfinity;
        if (x <= 0 && Math.Floor(x) == x) return double.PositiveInfinity;
        if (x == 1 || x == 2) return 0; // exact, as Γ(1) = Γ(2) = 1
        if (x < 0.5)
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LGamma(1 - x);
        if (x > 1e7) return x * (Math.Log(x) - 1) - 0.5 * Math.Log(x) + 0.5 * Math.Log(2 * Math.PI) + 1 / (12 * x);
        x -= 1;
        double a = Lanczos[0];
        double t = x + 7.5;
        for (int i = 1; i < 9; i++) a += Lanczos[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }

    public static double Digamma(double x)
    {
        if (double.IsNaN(x) || x == double.NegativeInfinity) return double.NaN;
        if (x == double.PositiveInfinity) return double.PositiveInfinity;
        if (x <= 0 && Math.Floor(x) == x) return double.NaN;
        if (x < 0) return Digamma(1 - x) - Math.PI / Math.Tan(Math.PI * x);
        double r = 0;
        // Shift to x >= 10 where the asymptotic series below (through the x^-14 term) is accurate to double precision.
        while (x < 10) { r -= 1 / x; x += 1; }
        double f = 1 / (x * x);
        double t = f * (-1.0 / 12 + f * (1.0 / 120 + f * (-1.0 / 252 + f * (1.0 / 240 + f * (-1.0 / 132 + f * (691.0 / 32760 + f * (-1.0 / 12)))))));
        return r + Math.Log(x) - 0.5 / x + t;
    }
}
