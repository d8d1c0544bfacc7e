using System.Runtime.Intrinsics.X86;

namespace Jx.Tests;

/// <summary>The compiled loop's small float32 product kernel (<see cref="SmallGemm"/>) against a float64 naive loop:
/// plain and transposed A, overwrite and accumulate, every row-tile mix (sixes, fours and single rows), one and two
/// 64-column blocks, and prefetch ranges (which must not change the result). On a CPU without AVX-512 the kernel
/// declines every shape and these tests check only that.</summary>
public unsafe class SmallGemmTests
{
    private static float[] Rand(int n, int seed)
    {
        var r = new System.Random(seed);
        return Enumerable.Range(0, n).Select(_ => (float)(r.NextDouble() * 2 - 1)).ToArray();
    }

    /// <summary>op(A)·B (+ C0) in float64; A is [m,k], or [k,m] when transposed.</summary>
    private static double[] Reference(float[] a, bool transA, float[] b, float[]? c0, int m, int n, int k)
    {
        var c = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double s = c0?[i * n + j] ?? 0;
                for (int p = 0; p < k; p++) s += (double)(transA ? a[p * m + i] : a[i * k + p]) * b[p * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    public static IEnumerable<object[]> Shapes() =>
        new (int M, int N, int K)[]
        {
            (1, 64, 1), (4, 64, 3), (5, 64, 7), (6, 64, 64), (7, 64, 5), (8, 64, 9), (9, 64, 2), (13, 64, 17),
            (32, 64, 64), (64, 64, 32), (33, 64, 10), (31, 128, 11), (2, 128, 64), (15, 128, 33),
        }.Select(s => new object[] { s.M, s.N, s.K });

    [Theory]
    [MemberData(nameof(Shapes))]
    public void ProductsMatchAFloat64LoopPlainAndTransposedOverwritingAndAccumulating(int m, int n, int k)
    {
        if (!Avx512F.IsSupported) { Assert.False(SmallGemm.Supports(m, n, k, false)); return; }
        Assert.True(SmallGemm.Supports(m, n, k, false));
        foreach (bool transA in new[] { false, true })
            foreach (bool accumulate in new[] { false, true })
            {
                var a = Rand(m * k, 1 + m);
                var b = Rand(k * n, 2 + n);
                var c0 = Rand(m * n, 3 + k);
                var c = accumulate ? (float[])c0.Clone() : Enumerable.Repeat(float.NaN, m * n).ToArray(); // overwrite must not read C
                fixed (float* pa = a, pb = b, pc = c)
                    SmallGemm.Multiply(pa, transA, pb, pc, m, n, k, accumulate, default);
                var want = Reference(a, transA, b, accumulate ? c0 : null, m, n, k);
                for (int i = 0; i < want.Length; i++)
                    Assert.True(Math.Abs(c[i] - want[i]) <= 1e-5 * (1 + Math.Abs(want[i])) * Math.Sqrt(k),
                        $"transA={transA} accumulate={accumulate} [{i / n},{i % n}]: {c[i]} vs {want[i]}");
            }
    }

    [Fact]
    public void PrefetchingOtherMemoryLeavesTheResultBitForBitTheSame()
    {
        if (!Avx512F.IsSupported) return;
        const int m = 32, n = 64, k = 64;
        var a = Rand(m * k, 5);
        var b = Rand(k * n, 6);
        var other = Rand(3 * 4096, 7);
        var plain = new float[m * n];
        var withPrefetch = new float[m * n];
        fixed (float* pa = a, pb = b, pc = plain, pw = withPrefetch, po = other)
        {
            SmallGemm.Multiply(pa, false, pb, pc, m, n, k, false, default);
            var ranges = new PrefetchRanges();
            // Five ranges: the fifth is ignored. 896 lines over 6 tiles: more lines per tile than k-iterations (the rest go
            // after each tile's loop), and ranges that end inside a tile's quota (the next tiles take what is owed).
            for (int r = 0; r < 5; r++) ranges.Add((byte*)(po + r * 2048), r == 4 ? 10 : 128 + 64 * r);
            Assert.Equal(PrefetchRanges.Max, ranges.Count);
            Assert.Equal(128 + 192 + 256 + 320, ranges.TotalLines);
            SmallGemm.Multiply(pa, false, pb, pw, m, n, k, false, ranges);
        }
        Assert.Equal(plain, withPrefetch);
    }

    [Fact]
    public void ShapesItDoesNotServeGoToBlas()
    {
        Assert.False(SmallGemm.Supports(32, 64, 64, transB: true));  // B read transposed
        Assert.False(SmallGemm.Supports(32, 60, 64, false));         // n not a multiple of 64
        Assert.False(SmallGemm.Supports(32, 48, 64, false));
        Assert.False(SmallGemm.Supports(128, 64, 64, false));        // past 2^18 multiply-adds
        Assert.False(SmallGemm.Supports(0, 64, 64, false));
        Assert.False(SmallGemm.Supports(4, 64, 0, false));
    }
}
