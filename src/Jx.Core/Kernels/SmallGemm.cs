using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jx;

/// <summary>A small float32 product, C[m,n] = op(A)·B or C += op(A)·B, for the per-step products of a compiled loop
/// (<c>PointerLoop</c>): 6-row (and 4- and 1-row) × 64-column register tiles over A read in place (row-major [m,k], or
/// [k,m] read transposed) and a row-major B [k,n], with no packing and no call into native code. While it computes it
/// can prefetch memory the caller will read next (the next loop step's rows of the scanned inputs and outputs) into the
/// L2 cache, one cache line per k-iteration of each tile, so the loads are spread over the product's run instead of
/// stalling the next step. It serves shapes with n a multiple of 64 and m·n·k ≤ 2¹⁸ on AVX-512 hardware
/// (<see cref="Supports"/>); everything else goes to <see cref="Gemm"/>.</summary>
internal static unsafe class SmallGemm
{
    private const int MR = 6, NB = 64;

    /// <summary>Whether this kernel runs a product of these dimensions (float32, B not transposed). Narrower column
    /// counts are left to BLAS: a tile narrower than 64 columns would leave the FMA units waiting on one another.</summary>
    public static bool Supports(int m, int n, int k, bool transB) =>
        Avx512F.IsSupported && !transB && m > 0 && k > 0 && n > 0 && n % NB == 0 && (long)m * n * k <= 1 << 18;

    /// <summary>C[m,n] = op(A)·B (or += with <paramref name="accumulate"/>), all row-major and contiguous; A is [m,k],
    /// or [k,m] with <paramref name="transA"/>. While it runs it prefetches the cache lines of
    /// <paramref name="prefetch"/> (start address and number of 64-byte lines, up to four ranges), shared out over its
    /// tiles. The caller keeps the memory pinned.</summary>
    /// <example><code>
    /// // c = a·b for a [32,64] and b [64,64], no prefetch
    /// SmallGemm.Multiply(pa, false, pb, pc, 32, 64, 64, accumulate: false, default);
    /// </code></example>
    public static void Multiply(float* a, bool transA, float* b, float* c, int m, int n, int k, bool accumulate, PrefetchRanges prefetch)
    {
        long sr = transA ? 1 : k, sk = transA ? m : 1;
        // Row tiles: sixes, then fours and ones; a remainder of 1–3 rows after at least one six becomes fours where it
        // can (32 rows run as 6+6+6+6+4+4, not five sixes and two single rows, which leave the FMA units idle).
        int sixes = m / MR, rest = m % MR;
        if (rest is >= 1 and <= 3 && sixes > 0 && rest + MR >= 8) { sixes--; rest += MR; }
        int fours = rest / 4, ones = rest % 4;
        int tiles = (sixes + fours + ones) * ((n + NB - 1) / NB);
        int total = prefetch.TotalLines;
        int perTile = total == 0 ? 0 : (total + tiles - 1) / tiles;
        int range = 0, line = 0; // the next line to prefetch: line of range
        int owed = 0;             // lines earlier tiles could not take (their range ended): the next tiles take them
        for (int j0 = 0; j0 < n; j0 += NB)
        {
            int i0 = 0;
            for (int t = 0; t < sixes + fours + ones; t++)
            {
                int rows = t < sixes ? 6 : t < sixes + fours ? 4 : 1;
                // This tile's share of the prefetch: its quota of lines, from one range (a tile never spans two).
                byte* pf = null;
                int pfLines = 0;
                while (perTile > 0 && range < PrefetchRanges.Max && line >= prefetch.Lines(range)) { range++; line = 0; }
                if (perTile > 0 && range < PrefetchRanges.Max)
                {
                    pf = prefetch.Start(range) + 64L * line;
                    pfLines = Math.Min(perTile + owed, prefetch.Lines(range) - line);
                    owed += perTile - pfLines;
                    line += pfLines;
                }
                float* ai = a + i0 * sr, ci = c + (long)i0 * n + j0, bj = b + j0;
                if (rows == 6) Tile<Six>(ai, sr, sk, bj, n, ci, n, k, accumulate, pf, pfLines);
                else if (rows == 4) Tile<Four>(ai, sr, sk, bj, n, ci, n, k, accumulate, pf, pfLines);
                else Tile<One>(ai, sr, sk, bj, n, ci, n, k, accumulate, pf, pfLines);
                i0 += rows;
            }
        }
        // Whatever the tiles' quotas left over (ranges that ended inside a quota) goes now.
        for (; perTile > 0 && range < PrefetchRanges.Max; range++, line = 0)
            for (; line < prefetch.Lines(range); line++) Sse.Prefetch1(prefetch.Start(range) + 64L * line);
    }

    /// <summary>The number of rows of a register tile, a type argument so that each tile size is compiled on its own
    /// with the other sizes' rows removed: each row's four accumulators are separate locals, which the JIT keeps in
    /// registers.</summary>
    private interface IRows { static abstract int Count { get; } }
    private struct Six : IRows { public static int Count => 6; }
    private struct Four : IRows { public static int Count => 4; }
    private struct One : IRows { public static int Count => 1; }

    /// <summary>A tile of <typeparamref name="R"/> (6, 4 or 1) rows × 64 columns of C over all k. Row r of A at step p is
    /// a[r·sr + p·sk]. It prefetches <paramref name="prefetchLines"/> lines from <paramref name="prefetch"/>, one per
    /// k-iteration (the rest after the loop).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<R>(float* a, long sr, long sk, float* b, int ldb, float* c, int ldc, int k, bool accumulate,
        byte* prefetch, int prefetchLines) where R : struct, IRows
    {
        Vector512<float> c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33, c40, c41, c42, c43, c50, c51, c52, c53;
        c00 = c01 = c02 = c03 = c10 = c11 = c12 = c13 = c20 = c21 = c22 = c23 = c30 = c31 = c32 = c33 = c40 = c41 = c42 = c43 = c50 = c51 = c52 = c53 = default;
        if (accumulate)
        {
            c00 = Vector512.Load(c + 0 * ldc + 0); c01 = Vector512.Load(c + 0 * ldc + 16); c02 = Vector512.Load(c + 0 * ldc + 32); c03 = Vector512.Load(c + 0 * ldc + 48);
            if (R.Count >= 4)
            {
                c10 = Vector512.Load(c + 1 * ldc + 0); c11 = Vector512.Load(c + 1 * ldc + 16); c12 = Vector512.Load(c + 1 * ldc + 32); c13 = Vector512.Load(c + 1 * ldc + 48);
                c20 = Vector512.Load(c + 2 * ldc + 0); c21 = Vector512.Load(c + 2 * ldc + 16); c22 = Vector512.Load(c + 2 * ldc + 32); c23 = Vector512.Load(c + 2 * ldc + 48);
                c30 = Vector512.Load(c + 3 * ldc + 0); c31 = Vector512.Load(c + 3 * ldc + 16); c32 = Vector512.Load(c + 3 * ldc + 32); c33 = Vector512.Load(c + 3 * ldc + 48);
            }
            if (R.Count == 6)
            {
                c40 = Vector512.Load(c + 4 * ldc + 0); c41 = Vector512.Load(c + 4 * ldc + 16); c42 = Vector512.Load(c + 4 * ldc + 32); c43 = Vector512.Load(c + 4 * ldc + 48);
                c50 = Vector512.Load(c + 5 * ldc + 0); c51 = Vector512.Load(c + 5 * ldc + 16); c52 = Vector512.Load(c + 5 * ldc + 32); c53 = Vector512.Load(c + 5 * ldc + 48);
            }
        }
        // Rows 0–2 are read at a, a + sr, a + 2sr and rows 3–5 at a3 = a + 3sr and on: two pointers and two offsets,
        // few enough general registers that nothing spills in the loop.
        long sr2 = 2 * sr;
        float* a3 = a + 3 * sr;
        float* end = b + (long)k * ldb;
        for (int p = 0; b < end; p++, b += ldb)
        {
            if (p < prefetchLines) Sse.Prefetch1(prefetch + 64L * p);
            var b0 = Vector512.Load(b); var b1 = Vector512.Load(b + 16); var b2 = Vector512.Load(b + 32); var b3 = Vector512.Load(b + 48);
            var x0 = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x0, b0, c00); c01 = Vector512.FusedMultiplyAdd(x0, b1, c01); c02 = Vector512.FusedMultiplyAdd(x0, b2, c02); c03 = Vector512.FusedMultiplyAdd(x0, b3, c03);
            if (R.Count >= 4)
            {
                var x1 = Vector512.Create(a[sr]);
                c10 = Vector512.FusedMultiplyAdd(x1, b0, c10); c11 = Vector512.FusedMultiplyAdd(x1, b1, c11); c12 = Vector512.FusedMultiplyAdd(x1, b2, c12); c13 = Vector512.FusedMultiplyAdd(x1, b3, c13);
                var x2 = Vector512.Create(a[sr2]);
                c20 = Vector512.FusedMultiplyAdd(x2, b0, c20); c21 = Vector512.FusedMultiplyAdd(x2, b1, c21); c22 = Vector512.FusedMultiplyAdd(x2, b2, c22); c23 = Vector512.FusedMultiplyAdd(x2, b3, c23);
                var x3 = Vector512.Create(a3[0]);
                c30 = Vector512.FusedMultiplyAdd(x3, b0, c30); c31 = Vector512.FusedMultiplyAdd(x3, b1, c31); c32 = Vector512.FusedMultiplyAdd(x3, b2, c32); c33 = Vector512.FusedMultiplyAdd(x3, b3, c33);
            }
            if (R.Count == 6)
            {
                var x4 = Vector512.Create(a3[sr]);
                c40 = Vector512.FusedMultiplyAdd(x4, b0, c40); c41 = Vector512.FusedMultiplyAdd(x4, b1, c41); c42 = Vector512.FusedMultiplyAdd(x4, b2, c42); c43 = Vector512.FusedMultiplyAdd(x4, b3, c43);
                var x5 = Vector512.Create(a3[sr2]);
                c50 = Vector512.FusedMultiplyAdd(x5, b0, c50); c51 = Vector512.FusedMultiplyAdd(x5, b1, c51); c52 = Vector512.FusedMultiplyAdd(x5, b2, c52); c53 = Vector512.FusedMultiplyAdd(x5, b3, c53);
            }
            a += sk;
            a3 += sk;
        }
        for (int p = k; p < prefetchLines; p++) Sse.Prefetch1(prefetch + 64L * p);
        c00.Store(c + 0 * ldc + 0); c01.Store(c + 0 * ldc + 16); c02.Store(c + 0 * ldc + 32); c03.Store(c + 0 * ldc + 48);
        if (R.Count >= 4)
        {
            c10.Store(c + 1 * ldc + 0); c11.Store(c + 1 * ldc + 16); c12.Store(c + 1 * ldc + 32); c13.Store(c + 1 * ldc + 48);
            c20.Store(c + 2 * ldc + 0); c21.Store(c + 2 * ldc + 16); c22.Store(c + 2 * ldc + 32); c23.Store(c + 2 * ldc + 48);
            c30.Store(c + 3 * ldc + 0); c31.Store(c + 3 * ldc + 16); c32.Store(c + 3 * ldc + 32); c33.Store(c + 3 * ldc + 48);
        }
        if (R.Count == 6)
        {
            c40.Store(c + 4 * ldc + 0); c41.Store(c + 4 * ldc + 16); c42.Store(c + 4 * ldc + 32); c43.Store(c + 4 * ldc + 48);
            c50.Store(c + 5 * ldc + 0); c51.Store(c + 5 * ldc + 16); c52.Store(c + 5 * ldc + 32); c53.Store(c + 5 * ldc + 48);
        }
    }
}

/// <summary>Up to four memory ranges (start address and number of 64-byte cache lines) for <see cref="SmallGemm"/> to
/// prefetch while it computes.</summary>
internal unsafe struct PrefetchRanges
{
    /// <summary>The most ranges it holds.</summary>
    public const int Max = 4;

    private byte* _s0, _s1, _s2, _s3;
    private int _n0, _n1, _n2, _n3;

    /// <summary>The number of ranges set.</summary>
    public int Count { get; private set; }

    /// <summary>Lines in all ranges.</summary>
    public readonly int TotalLines => _n0 + _n1 + _n2 + _n3;

    /// <summary>Adds a range (ignored once four are set, or when empty).</summary>
    public void Add(byte* start, int lines)
    {
        if (lines <= 0 || Count == Max) return;
        switch (Count++)
        {
            case 0: _s0 = start; _n0 = lines; break;
            case 1: _s1 = start; _n1 = lines; break;
            case 2: _s2 = start; _n2 = lines; break;
            default: _s3 = start; _n3 = lines; break;
        }
    }

    /// <summary>Range <paramref name="i"/>'s first byte.</summary>
    public readonly byte* Start(int i) => i switch { 0 => _s0, 1 => _s1, 2 => _s2, _ => _s3 };
    /// <summary>Range <paramref name="i"/>'s length in 64-byte lines (0 when unset).</summary>
    public readonly int Lines(int i) => i switch { 0 => _n0, 1 => _n1, 2 => _n2, _ => _n3 };
}
