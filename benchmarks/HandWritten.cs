using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Jx.Benchmarks;

/// <summary>The in-process references: the best fused loops a careful person writes by hand for W1 and W2
/// (Vector512, one pass over memory, parallel over the benchmark's thread count), and W1 written as unfused
/// <see cref="TP"/> passes. They write into caller-provided buffers, so they measure compute and memory traffic
/// only (no allocation): the ceiling an eager library could reach.</summary>
internal static class HandWritten
{
    private const float SqrtTwoOverPi = 0.7978845608028654f;
    private const float GeluCubic = 0.044715f;

    /// <summary>Elements per parallel chunk for W1 (256 KiB of input: stays in L2 while it is read and written).</summary>
    private const int Chunk = 1 << 16;

    // ----- vectorized exp (Cephes expf scheme: Cody-Waite range reduction + degree-6 minimax polynomial, ~1 ulp) -----

    private static readonly Vector512<float> Log2E = Vector512.Create(1.44269504088896341f);
    private static readonly Vector512<float> Ln2Hi = Vector512.Create(0.693359375f);
    private static readonly Vector512<float> Ln2Lo = Vector512.Create(-2.12194440e-4f);
    private static readonly Vector512<float> ExpHi = Vector512.Create(88.0f);
    private static readonly Vector512<float> ExpLo = Vector512.Create(-87.0f);

    /// <summary>e^x for x in [-87, 88] (inputs outside are clamped: the result saturates near 2^±126 instead of
    /// becoming 0 or ∞, which is all W1 and W2 need). Max relative error about 2e-7 (≈ 1-2 ulp).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, ExpLo), ExpHi);
        var n = Vector512.Round(x * Log2E);
        var r = Vector512.FusedMultiplyAdd(n, -Ln2Hi, x);
        r = Vector512.FusedMultiplyAdd(n, -Ln2Lo, r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p * r, r, r) + Vector512<float>.One;
        var scale = ((Vector512.ConvertToInt32(n) + Vector512.Create(127)) << 23).AsSingle();
        return p * scale;
    }

    // ----- W1: tanh-GELU -----

    /// <summary>GELU(x) = 0.5·x·(1 + tanh(u)) with u = √(2/π)(x + 0.044715x³), computed through the exact identity
    /// 0.5(1 + tanh(u)) = 1/(1 + e^(−2u)): one exp and one division per element, one pass over memory, and no
    /// cancellation in 1 + tanh(u) for negative x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Gelu(Vector512<float> x)
    {
        var x2 = x * x;
        var u = x * Vector512.FusedMultiplyAdd(x2, Vector512.Create(SqrtTwoOverPi * GeluCubic), Vector512.Create(SqrtTwoOverPi));
        var e = Exp(u * Vector512.Create(-2f));
        return x / (Vector512<float>.One + e);
    }

    /// <summary>W1 fused: y = GELU(x), Vector512, parallel over <paramref name="threads"/> threads.</summary>
    public static void GeluFused(float[] x, float[] y, int threads)
    {
        int n = x.Length;
        int chunks = (n + Chunk - 1) / Chunk;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
        {
            int s = c * Chunk, e = Math.Min(n, s + Chunk);
            GeluRange(x, y, s, e);
        });
    }

    private static unsafe void GeluRange(float[] x, float[] y, int s, int e)
    {
        const int W = 16;
        fixed (float* px = x, py = y)
        {
            int i = s;
            for (; i + 2 * W <= e; i += 2 * W)
            {
                Gelu(Vector512.Load(px + i)).Store(py + i);
                Gelu(Vector512.Load(px + i + W)).Store(py + i + W);
            }
            for (; i + W <= e; i += W) Gelu(Vector512.Load(px + i)).Store(py + i);
            if (i < e)
            {
                if (e - s >= W) Gelu(Vector512.Load(px + e - W)).Store(py + e - W); // overlapping last vector
                else for (; i < e; i++) y[i] = GeluScalar(x[i]);
            }
        }
    }

    /// <summary>Scalar GELU in float32 (only for tails shorter than one vector).</summary>
    public static float GeluScalar(float x)
    {
        float u = SqrtTwoOverPi * (x + GeluCubic * x * x * x);
        return x / (1f + MathF.Exp(-2f * u));
    }

    /// <summary>GELU in float64 with the formula as written: the exact value the checks compare against.</summary>
    public static double GeluExact(double x) => 0.5 * x * (1 + Math.Tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));

    /// <summary>W1 unfused: the formula as nine <see cref="TP"/> passes over the whole array (one temporary, reused),
    /// each pass split over <paramref name="threads"/> threads — what an eager library does, minus allocation and
    /// dispatch.</summary>
    public static void GeluTensorPrimitives(float[] x, float[] t, float[] y, int threads)
    {
        Pass(x.Length, threads, (s, n) => TP.Multiply(x.AsSpan(s, n), x.AsSpan(s, n), t.AsSpan(s, n)));           // x·x
        Pass(x.Length, threads, (s, n) => TP.Multiply(t.AsSpan(s, n), x.AsSpan(s, n), t.AsSpan(s, n)));           // x³
        Pass(x.Length, threads, (s, n) => TP.Multiply(t.AsSpan(s, n), GeluCubic, t.AsSpan(s, n)));                // 0.044715x³
        Pass(x.Length, threads, (s, n) => TP.Add(t.AsSpan(s, n), x.AsSpan(s, n), t.AsSpan(s, n)));                // x + ...
        Pass(x.Length, threads, (s, n) => TP.Multiply(t.AsSpan(s, n), SqrtTwoOverPi, t.AsSpan(s, n)));            // u
        Pass(x.Length, threads, (s, n) => TP.Tanh(t.AsSpan(s, n), t.AsSpan(s, n)));                                // tanh(u)
        Pass(x.Length, threads, (s, n) => TP.Add(t.AsSpan(s, n), 1f, t.AsSpan(s, n)));                            // 1 + tanh
        Pass(x.Length, threads, (s, n) => TP.Multiply(t.AsSpan(s, n), x.AsSpan(s, n), t.AsSpan(s, n)));           // x·(...)
        Pass(x.Length, threads, (s, n) => TP.Multiply(t.AsSpan(s, n), 0.5f, y.AsSpan(s, n)));                     // 0.5·
    }

    private static void Pass(int n, int threads, Action<int, int> body)
    {
        int per = (n + threads - 1) / threads;
        per = (per + 63) & ~63;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, w =>
        {
            int s = w * per, e = Math.Min(n, s + per);
            if (e > s) body(s, e - s);
        });
    }

    // ----- W2: row-wise log-sum-exp -----

    /// <summary>W2 fused: y[r] = log Σ_j exp(m[r, j]) for a row-major rows×cols matrix — per row a vector max pass
    /// and a vector Σ exp(x − max) pass (the row stays in L1 between them), rows split over the threads. A row
    /// whose max is not finite uses 0 as the shift, as jax.nn.logsumexp does.</summary>
    public static void LogSumExpRows(float[] m, int rows, int cols, float[] y, int threads)
    {
        int blocks = Math.Min(rows, threads * 8);
        int per = (rows + blocks - 1) / blocks;
        Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, b =>
        {
            int r0 = b * per, r1 = Math.Min(rows, r0 + per);
            for (int r = r0; r < r1; r++) y[r] = LogSumExpRow(m.AsSpan(r * cols, cols));
        });
    }

    private static unsafe float LogSumExpRow(ReadOnlySpan<float> row)
    {
        const int W = 16;
        int n = row.Length;
        fixed (float* p = row)
        {
            float max = float.NegativeInfinity;
            int i = 0;
            if (n >= 4 * W)
            {
                var m0 = Vector512.Create(float.NegativeInfinity);
                var m1 = m0; var m2 = m0; var m3 = m0;
                for (; i + 4 * W <= n; i += 4 * W)
                {
                    m0 = Vector512.Max(m0, Vector512.Load(p + i));
                    m1 = Vector512.Max(m1, Vector512.Load(p + i + W));
                    m2 = Vector512.Max(m2, Vector512.Load(p + i + 2 * W));
                    m3 = Vector512.Max(m3, Vector512.Load(p + i + 3 * W));
                }
                max = Vector512.Max(Vector512.Max(m0, m1), Vector512.Max(m2, m3)).ToScalarMax();
            }
            for (; i < n; i++) max = MathF.Max(max, p[i]);
            if (!float.IsFinite(max)) max = 0f;

            var shift = Vector512.Create(max);
            var s0 = Vector512<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
            i = 0;
            for (; i + 4 * W <= n; i += 4 * W)
            {
                s0 += Exp(Vector512.Load(p + i) - shift);
                s1 += Exp(Vector512.Load(p + i + W) - shift);
                s2 += Exp(Vector512.Load(p + i + 2 * W) - shift);
                s3 += Exp(Vector512.Load(p + i + 3 * W) - shift);
            }
            float sum = Vector512.Sum((s0 + s1) + (s2 + s3));
            for (; i < n; i++) sum += MathF.Exp(p[i] - max);
            return MathF.Log(sum) + max;
        }
    }

    private static float ToScalarMax(this Vector512<float> v)
    {
        var h = Vector256.Max(v.GetLower(), v.GetUpper());
        var q = Vector128.Max(h.GetLower(), h.GetUpper());
        float r = q[0];
        for (int k = 1; k < 4; k++) r = MathF.Max(r, q[k]);
        return r;
    }

    /// <summary>Row log-sum-exp in float64: the exact value the checks compare against.</summary>
    public static double LogSumExpExact(ReadOnlySpan<float> row)
    {
        double max = double.NegativeInfinity;
        foreach (var v in row) max = Math.Max(max, v);
        double s = 0;
        foreach (var v in row) s += Math.Exp(v - max);
        return Math.Log(s) + max;
    }
}
