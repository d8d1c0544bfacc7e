namespace Jx.Benchmarks;

/// <summary>The Jx forms of the workloads (shared/BENCHMARKS.md) and their inputs. Eager only: Jx.Jit does not exist yet.</summary>
internal static class JxForms
{
    /// <summary>W1 as a user writes it with Np ops (nine eager ops, each a full pass over the array).</summary>
    public static Tensor Gelu(Tensor x) => 0.5 * x * (1 + Np.Tanh(0.79788456 * (x + 0.044715 * x * x * x)));

    /// <summary>W2: row-wise log-sum-exp.</summary>
    public static Tensor LogSumExpRows(Tensor m) => Nn.LogSumExp(m, 1);

    /// <summary>W3: a 2-D matmul.</summary>
    public static Tensor Matmul(Tensor a, Tensor b) => Np.Matmul(a, b);

    /// <summary>W7: <paramref name="count"/> eager adds of two 1-element tensors; returns the last result.</summary>
    public static Tensor Adds(Tensor a, Tensor b, int count)
    {
        Tensor r = a;
        for (int i = 0; i < count; i++) r = Np.Add(a, b);
        return r;
    }
}

/// <summary>Workload sizes.</summary>
internal static class Sizes
{
    public const int W1 = 1 << 24;          // 16M elements
    public const int W2 = 4096;             // 4096×4096
    public const int W3 = 2048;             // 2048³
    public const int W7 = 10_000;           // adds
    public static double W3Flop => 2.0 * W3 * (double)W3 * W3;
}

/// <summary>Correctness checks run before timing: a workload whose answer is wrong is reported, not timed.</summary>
internal static class Check
{
    /// <summary>Outcome of a comparison: the worst |got − want| as a fraction of the allowed error at that element.</summary>
    public sealed record Result(bool Ok, double WorstFractionOfTolerance, string Detail)
    {
        public override string ToString() => Ok ? $"ok ({WorstFractionOfTolerance:G2}× tol)" : $"WRONG: {Detail}";
    }

    /// <summary>|got[i] − want[i]| ≤ atol + rtol·|want[i]| for every i (numpy.allclose).</summary>
    public static Result AllClose(string what, ReadOnlySpan<float> got, ReadOnlySpan<float> want, double rtol, double atol)
    {
        if (got.Length != want.Length) return new(false, double.PositiveInfinity, $"{what}: length {got.Length} vs {want.Length}");
        double worst = 0; int at = 0;
        for (int i = 0; i < got.Length; i++)
        {
            double g = got[i], w = want[i];
            double f = Math.Abs(g - w) / (atol + rtol * Math.Abs(w));
            if (double.IsNaN(f) || f > worst) { worst = double.IsNaN(f) ? double.PositiveInfinity : f; at = i; }
        }
        return new(worst <= 1, worst, $"{what}: element {at}: got {got[at]:R}, want {want[at]:R} (rtol {rtol}, atol {atol})");
    }

    /// <summary>Sampled elements of <paramref name="got"/> against a float64 function of the index.</summary>
    public static Result AgainstExact(string what, float[] got, Func<int, double> exact, int stride, double rtol, double atol)
    {
        double worst = 0; int at = 0; double atWant = 0;
        for (int i = 0; i < got.Length; i += stride)
        {
            double w = exact(i);
            double f = Math.Abs(got[i] - w) / (atol + rtol * Math.Abs(w));
            if (double.IsNaN(f) || f > worst) { worst = double.IsNaN(f) ? double.PositiveInfinity : f; at = i; atWant = w; }
        }
        return new(worst <= 1, worst, $"{what}: element {at}: got {got[at]:R}, exact {atWant:R} (rtol {rtol}, atol {atol})");
    }

    /// <summary>Sampled entries of C = A·B (n×n, row-major) against float64 dot products, with the standard forward
    /// error bound |ĉ − c| ≤ γ_n Σ_k |a_ik b_kj|, γ_n = n·2⁻²⁴.</summary>
    public static Result Matmul(string what, float[] a, float[] b, float[] c, int n, int samples = 512)
    {
        var rng = new System.Random(12345);
        double gamma = n * Math.Pow(2, -24);
        double worst = 0; string detail = "";
        for (int s = 0; s < samples; s++)
        {
            int i = rng.Next(n), j = rng.Next(n);
            double dot = 0, absDot = 0;
            for (int k = 0; k < n; k++)
            {
                double p = (double)a[i * n + k] * b[k * n + j];
                dot += p; absDot += Math.Abs(p);
            }
            double f = Math.Abs(c[i * n + j] - dot) / (gamma * absDot);
            if (double.IsNaN(f) || f > worst)
            {
                worst = double.IsNaN(f) ? double.PositiveInfinity : f;
                detail = $"{what}: C[{i},{j}] = {c[i * n + j]:R}, exact {dot:R}, bound {gamma * absDot:G3}";
            }
        }
        return new(worst <= 1, worst, detail);
    }

    /// <summary>Both must hold.</summary>
    public static Result And(Result a, Result b) =>
        new(a.Ok && b.Ok, Math.Max(a.WorstFractionOfTolerance, b.WorstFractionOfTolerance), !a.Ok ? a.Detail : b.Detail);
}
