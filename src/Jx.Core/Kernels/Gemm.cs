using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Jx;

/// <summary>Matrix products C = A·B for row-major float32/float64 matrices: a system BLAS (OpenBLAS's cblas_sgemm /
/// cblas_dgemm, loaded at run time) when one is installed, else a managed blocked Vector512 kernel. JX_BLAS=managed
/// forces the managed kernel; <see cref="Backend"/> says which one runs.</summary>
public static unsafe class Gemm
{
    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;
    private static readonly delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void> Dgemm;

    /// <summary>"openblas (libopenblas.so.0)" or "managed (...reason)".</summary>
    public static string Backend { get; }
    /// <summary>True when a system BLAS was found and is used.</summary>
    public static bool UsingBlas => Sgemm != null;
    /// <summary>When true, products use the managed kernel even if a BLAS is loaded (tests compare both paths).</summary>
    public static bool ForceManaged { get; set; }

    static Gemm()
    {
        var mode = Environment.GetEnvironmentVariable("JX_BLAS");
        if (mode == "managed") { Backend = "managed (JX_BLAS=managed)"; return; }
        string[] names = ["libopenblas.so.0", "libopenblas.so", "libblas.so.3", "libcblas.so.3", "libopenblas.dylib", "libopenblas.dll"];
        foreach (var n in names)
        {
            if (!NativeLibrary.TryLoad(n, out var h)) continue;
            if (NativeLibrary.TryGetExport(h, "cblas_sgemm", out var s) && NativeLibrary.TryGetExport(h, "cblas_dgemm", out var d))
            {
                Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)s;
                Dgemm = (delegate* unmanaged<int, int, int, int, int, int, double, double*, int, double*, int, double, double*, int, void>)d;
                Backend = $"openblas ({n})";
                return;
            }
        }
        Backend = $"managed (no system BLAS found; tried {string.Join(", ", names)}; install libopenblas0 for faster matmuls)";
    }

    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    /// <summary>C[m,n] = A[m,k]·B[k,n], all row-major and contiguous; C is overwritten.</summary>
    /// <example><code>
    /// var c = new float[4];
    /// Gemm.Multiply([1f, 2, 3, 4], [1f, 0, 0, 1], c, 2, 2, 2); // c = [1, 2, 3, 4]
    /// </code></example>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k) =>
        Multiply(a, b, c, m, n, k, transA: false, transB: false);

    /// <summary>C[m,n] = op(A)·op(B) where op(A) is A[m,k] or, with <paramref name="transA"/>, the transpose of a
    /// row-major A[k,m] (likewise B[k,n] or B[n,k]); the transposes are read in place, never copied.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool transA, bool transB) =>
        Multiply(a, b, c, m, n, k, transA, transB, accumulate: false);

    /// <summary>C[m,n] = op(A)·op(B), or with <paramref name="accumulate"/> C[m,n] += op(A)·op(B) (BLAS's β = 1: a
    /// running sum of products, such as a weight gradient summed over a loop, updated in place).</summary>
    /// <example><code>
    /// var c = new float[] { 1, 1, 1, 1 };
    /// Gemm.Multiply([1f, 2, 3, 4], [1f, 0, 0, 1], c, 2, 2, 2, false, false, accumulate: true); // c = [2, 3, 4, 5]
    /// </code></example>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k, bool transA, bool transB, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        if (k == 0) { if (!accumulate) c[..(m * n)].Clear(); return; }
        if (Sgemm != null && !ForceManaged)
        {
            fixed (float* pa = a, pb = b, pc = c)
                Sgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, 1f, pa, transA ? m : k, pb, transB ? k : n, accumulate ? 1f : 0f, pc, n);
            return;
        }
        ManagedGemm<float>.Run(a, b, c, m, n, k, transA, transB, accumulate);
    }

    /// <summary>C[m,n] = A[m,k]·B[k,n] in float64, all row-major and contiguous; C is overwritten.</summary>
    public static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int m, int n, int k) =>
        Multiply(a, b, c, m, n, k, transA: false, transB: false);

    /// <summary>The float64 form of <see cref="Multiply(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool, bool)"/>.</summary>
    public static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int m, int n, int k, bool transA, bool transB) =>
        Multiply(a, b, c, m, n, k, transA, transB, accumulate: false);

    /// <summary>The float64 form of <see cref="Multiply(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float}, int, int, int, bool, bool, bool)"/>.</summary>
    public static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int m, int n, int k, bool transA, bool transB, bool accumulate)
    {
        if (m == 0 || n == 0) return;
        if (k == 0) { if (!accumulate) c[..(m * n)].Clear(); return; }
        if (Dgemm != null && !ForceManaged)
        {
            fixed (double* pa = a, pb = b, pc = c)
                Dgemm(RowMajor, transA ? Trans : NoTrans, transB ? Trans : NoTrans, m, n, k, 1.0, pa, transA ? m : k, pb, transB ? k : n, accumulate ? 1.0 : 0.0, pc, n);
            return;
        }
        ManagedGemm<double>.Run(a, b, c, m, n, k, transA, transB, accumulate);
    }
}

/// <summary>The managed GEMM: B is packed into panels of NR columns (two Vector512 registers wide) per KC-deep block,
/// and a 6×NR register-blocked micro-kernel accumulates into C; row panels run in parallel.</summary>
internal static unsafe class ManagedGemm<T> where T : unmanaged, System.Numerics.INumber<T>
{
    private static readonly int W = Vector512<T>.Count;
    private static readonly int NR = 2 * W;
    private const int MR = 6, KC = 256, NC = 1024, MC = 144;

    public static void Run(ReadOnlySpan<T> aSpan, ReadOnlySpan<T> bSpan, Span<T> cSpan, int m, int n, int k, bool transA = false, bool transB = false, bool accumulate = false)
    {
        // The micro-kernel adds its tiles into C.
        if (!accumulate) cSpan[..(m * n)].Clear();
        fixed (T* a = aSpan, b = bSpan, c = cSpan)
        {
            var pa = (nint)a; var pb = (nint)b; var pc = (nint)c;
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                int panels = (nc + NR - 1) / NR;
                var packed = GC.AllocateUninitializedArray<T>(panels * NR * KC, pinned: true);
                for (int pc0 = 0; pc0 < k; pc0 += KC)
                {
                    int kc = Math.Min(KC, k - pc0);
                    Pack((T*)pb, packed, n, k, jc, nc, pc0, kc, transB);
                    // GotoBLAS order: each worker packs a block of MC rows of A (kept in L2) and sweeps it against one
                    // B panel at a time (kept in L1 across the block's row panels).
                    int rowPanels = (m + MR - 1) / MR;
                    int blockPanels = MC / MR;
                    int blocks = (rowPanels + blockPanels - 1) / blockPanels;
                    int workers = Math.Max(1, Math.Min(Math.Min(Environment.ProcessorCount, blocks), (int)((long)m * nc * kc / 200_000)));
                    int next = -1;
                    Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, _ =>
                    {
                        var ablock = GC.AllocateUninitializedArray<T>(Math.Min(blockPanels, rowPanels) * MR * kc, pinned: true);
                        fixed (T* pp = packed, ap = ablock)
                            for (int blk = Interlocked.Increment(ref next); blk < blocks; blk = Interlocked.Increment(ref next))
                            {
                                int rp0 = blk * blockPanels, rp1 = Math.Min(rowPanels, rp0 + blockPanels);
                                for (int rp = rp0; rp < rp1; rp++)
                                    PackA((T*)pa, ap + (rp - rp0) * MR * kc, m, k, rp * MR, pc0, kc, transA);
                                for (int jp = 0; jp < panels; jp++)
                                {
                                    int j0 = jc + jp * NR;
                                    int cols = Math.Min(NR, n - j0);
                                    for (int rp = rp0; rp < rp1; rp++)
                                    {
                                        int i0 = rp * MR;
                                        Micro(ap + (rp - rp0) * MR * kc, pp + jp * NR * kc, (T*)pc + (long)i0 * n + j0, n,
                                            Math.Min(MR, m - i0), cols, kc);
                                    }
                                }
                            }
                    });
                }
            }
        }
    }

    /// <summary>Copies B's block (rows pc0..pc0+kc, columns jc..jc+nc) into panels of NR columns, p-major, zero-padding
    /// the last panel; with <paramref name="transB"/> B is stored as its transpose [n,k].</summary>
    private static void Pack(T* b, T[] packed, int n, int k, int jc, int nc, int pc0, int kc, bool transB)
    {
        int panels = (nc + NR - 1) / NR;
        fixed (T* pp = packed)
            for (int jp = 0; jp < panels; jp++)
            {
                T* dst = pp + jp * NR * kc;
                int j0 = jc + jp * NR;
                int cols = Math.Min(NR, jc + nc - j0);
                if (transB)
                {
                    for (int j = 0; j < NR; j++)
                    {
                        if (j < cols)
                        {
                            T* src = b + (long)(j0 + j) * k + pc0;
                            for (int p = 0; p < kc; p++) dst[p * NR + j] = src[p];
                        }
                        else
                            for (int p = 0; p < kc; p++) dst[p * NR + j] = T.Zero;
                    }
                    continue;
                }
                for (int p = 0; p < kc; p++)
                {
                    T* src = b + (long)(pc0 + p) * n + j0;
                    T* d = dst + p * NR;
                    int j = 0;
                    for (; j < cols; j++) d[j] = src[j];
                    for (; j < NR; j++) d[j] = T.Zero;
                }
            }
    }

    /// <summary>c + x·b as one fused multiply-add for float and double (the JIT keeps only the branch for T), a
    /// multiply and an add otherwise.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma(Vector512<T> x, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(float))
            return Vector512.FusedMultiplyAdd(x.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        if (typeof(T) == typeof(double))
            return Vector512.FusedMultiplyAdd(x.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        return c + x * b;
    }

    /// <summary>Copies rows i0..i0+MR of A's block pc0..pc0+kc into <paramref name="dst"/> k-major (MR values per k),
    /// zero-filling rows past m, so the micro-kernel reads one contiguous stream; with <paramref name="transA"/> A is
    /// stored as its transpose [k,m].</summary>
    private static void PackA(T* a, T* dst, int m, int k, int i0, int pc0, int kc, bool transA)
    {
        int rows = Math.Min(MR, m - i0);
        if (transA)
        {
            for (int p = 0; p < kc; p++)
            {
                T* src = a + (long)(pc0 + p) * m + i0;
                T* d = dst + p * MR;
                int r = 0;
                for (; r < rows; r++) d[r] = src[r];
                for (; r < MR; r++) d[r] = T.Zero;
            }
            return;
        }
        for (int r = 0; r < MR; r++)
        {
            if (r < rows)
            {
                T* src = a + (long)(i0 + r) * k + pc0;
                for (int p = 0; p < kc; p++) dst[p * MR + r] = src[p];
            }
            else
                for (int p = 0; p < kc; p++) dst[p * MR + r] = T.Zero;
        }
    }

    /// <summary>The 6×NR register tile over one packed A panel and one packed B panel; adds the tile into C (vector
    /// stores for full tiles, element-wise at the ragged edges).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro(T* ap, T* bp, T* c, int n, int rows, int cols, int kc)
    {
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int w = W, nr = 2 * W;
        for (int p = 0; p < kc; p++, ap += MR, bp += nr)
        {
            var b0 = Vector512.Load(bp);
            var b1 = Vector512.Load(bp + w);
            var x = Vector512.Create(ap[0]); c00 = Fma(x, b0, c00); c01 = Fma(x, b1, c01);
            x = Vector512.Create(ap[1]); c10 = Fma(x, b0, c10); c11 = Fma(x, b1, c11);
            x = Vector512.Create(ap[2]); c20 = Fma(x, b0, c20); c21 = Fma(x, b1, c21);
            x = Vector512.Create(ap[3]); c30 = Fma(x, b0, c30); c31 = Fma(x, b1, c31);
            x = Vector512.Create(ap[4]); c40 = Fma(x, b0, c40); c41 = Fma(x, b1, c41);
            x = Vector512.Create(ap[5]); c50 = Fma(x, b0, c50); c51 = Fma(x, b1, c51);
        }
        if (rows == MR && cols == nr)
        {
            T* r0 = c; Vector512.Store(Vector512.Load(r0) + c00, r0); Vector512.Store(Vector512.Load(r0 + w) + c01, r0 + w);
            T* r1 = r0 + n; Vector512.Store(Vector512.Load(r1) + c10, r1); Vector512.Store(Vector512.Load(r1 + w) + c11, r1 + w);
            T* r2 = r1 + n; Vector512.Store(Vector512.Load(r2) + c20, r2); Vector512.Store(Vector512.Load(r2 + w) + c21, r2 + w);
            T* r3 = r2 + n; Vector512.Store(Vector512.Load(r3) + c30, r3); Vector512.Store(Vector512.Load(r3 + w) + c31, r3 + w);
            T* r4 = r3 + n; Vector512.Store(Vector512.Load(r4) + c40, r4); Vector512.Store(Vector512.Load(r4 + w) + c41, r4 + w);
            T* r5 = r4 + n; Vector512.Store(Vector512.Load(r5) + c50, r5); Vector512.Store(Vector512.Load(r5 + w) + c51, r5 + w);
            return;
        }
        T* tile = stackalloc T[MR * 2 * 16];
        c00.Store(tile); c01.Store(tile + w); c10.Store(tile + nr); c11.Store(tile + nr + w);
        c20.Store(tile + 2 * nr); c21.Store(tile + 2 * nr + w); c30.Store(tile + 3 * nr); c31.Store(tile + 3 * nr + w);
        c40.Store(tile + 4 * nr); c41.Store(tile + 4 * nr + w); c50.Store(tile + 5 * nr); c51.Store(tile + 5 * nr + w);
        for (int r = 0; r < rows; r++)
        {
            T* crow = c + (long)r * n;
            for (int j = 0; j < cols; j++) crow[j] += tile[r * nr + j];
        }
    }
}
