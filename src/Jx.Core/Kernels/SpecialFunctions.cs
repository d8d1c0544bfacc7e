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

    public static double ErfInv(double y)
    {
        if (double.IsNaN(y) || y < -1 || y > 1) return double.NaN;
        if (y == 1) return double.PositiveInfinity;
        if (y == -1) return double.NegativeInfinity;
        // Giles' single-precision approximation, then Newton steps in double.
        double w = -Math.Log((1 - y) * (1 + y)), p;
        if (w < 5)
        {
            w -= 2.5;
            p = 2.81022636e-08;
            p = 3.43273939e-07 + p * w; p = -3.5233877e-06 + p * w; p = -4.39150654e-06 + p * w;
            p = 0.00021858087 + p * w; p = -0.00125372503 + p * w; p = -0.00417768164 + p * w;
            p = 0.246640727 + p * w; p = 1.50140941 + p * w;
        }
        else
        {
            w = Math.Sqrt(w) - 3;
            p = -0.000200214257;
            p = 0.000100950558 + p * w; p = 0.00134934322 + p * w; p = -0.00367342844 + p * w;
            p = 0.00573950773 + p * w; p = -0.0076224613 + p * w; p = 0.00943887047 + p * w;
            p = 1.00167406 + p * w; p = 2.83297682 + p * w;
        }
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
