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

    private const int RowMajor = 101, NoTrans = 111;

    /// <summary>C[m,n] = A[m,k]·B[k,n], all row-major and contiguous; C is overwritten.</summary>
    public static void Multiply(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int n, int k)
    {
        if (m == 0 || n == 0) return;
        if (k == 0) { c[..(m * n)].Clear(); return; }
        if (Sgemm != null && !ForceManaged)
        {
            fixed (float* pa = a, pb = b, pc = c)
                Sgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1f, pa, k, pb, n, 0f, pc, n);
            return;
        }
        ManagedGemm<float>.Run(a, b, c, m, n, k);
    }

    public static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> c, int m, int n, int k)
    {
        if (m == 0 || n == 0) return;
        if (k == 0) { c[..(m * n)].Clear(); return; }
        if (Dgemm != null && !ForceManaged)
        {
            fixed (double* pa = a, pb = b, pc = c)
                Dgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1.0, pa, k, pb, n, 0.0, pc, n);
            return;
        }
        ManagedGemm<double>.Run(a, b, c, m, n, k);
    }
}

/// <summary>The managed GEMM: B is packed into panels of NR columns (two Vector512 registers wide) per KC-deep block,
/// and a 6×NR register-blocked micro-kernel accumulates into C; row panels run in parallel.</summary>
internal static unsafe class ManagedGemm<T> where T : unmanaged, System.Numerics.INumber<T>
{
    private static readonly int W = Vector512<T>.Count;
    private static readonly int NR = 2 * W;
    private const int MR = 6, KC = 256, NC = 2048;

    public static void Run(ReadOnlySpan<T> aSpan, ReadOnlySpan<T> bSpan, Span<T> cSpan, int m, int n, int k)
    {
        cSpan[..(m * n)].Clear();
        fixed (T* a = aSpan, b = bSpan, c = cSpan)
        {
            var pa = (nint)a; var pb = (nint)b; var pc = (nint)c;
            for (int jc = 0; jc < n; jc += NC)
            {
                int nc = Math.Min(NC, n - jc);
                int panels = (nc + NR - 1) / NR;
                var packed = GC.AllocateUninitializedArray<T>(panels * NR * KC, pinned: true);
                var zeroRow = new T[KC];
                for (int pc0 = 0; pc0 < k; pc0 += KC)
                {
                    int kc = Math.Min(KC, k - pc0);
                    Pack((T*)pb, packed, n, jc, nc, pc0, kc);
                    int rowPanels = (m + MR - 1) / MR;
                    int workers = Math.Max(1, Math.Min(Environment.ProcessorCount, (int)((long)m * nc * kc / 200_000)));
                    int per = (rowPanels + workers - 1) / workers;
                    Parallel.For(0, workers, new ParallelOptions { MaxDegreeOfParallelism = workers }, w =>
                    {
                        int r0 = w * per, r1 = Math.Min(rowPanels, r0 + per);
                        Span<T> tile = stackalloc T[MR * 32];
                        fixed (T* pp = packed, pz = zeroRow)
                            for (int rp = r0; rp < r1; rp++)
                            {
                                int i0 = rp * MR;
                                for (int jp = 0; jp < panels; jp++)
                                {
                                    Micro((T*)pa, pp + jp * NR * kc, pz, tile, m, k, i0, pc0, kc);
                                    int j0 = jc + jp * NR;
                                    int cols = Math.Min(NR, n - j0);
                                    int rows = Math.Min(MR, m - i0);
                                    T* cp = (T*)pc;
                                    for (int r = 0; r < rows; r++)
                                    {
                                        T* crow = cp + (long)(i0 + r) * n + j0;
                                        for (int j = 0; j < cols; j++) crow[j] += tile[r * NR + j];
                                    }
                                }
                            }
                    });
                }
            }
        }
    }

    private static void Pack(T* b, T[] packed, int n, int jc, int nc, int pc0, int kc)
    {
        int panels = (nc + NR - 1) / NR;
        fixed (T* pp = packed)
            for (int jp = 0; jp < panels; jp++)
            {
                T* dst = pp + jp * NR * kc;
                int j0 = jc + jp * NR;
                int cols = Math.Min(NR, jc + nc - j0);
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Micro(T* a, T* bp, T* zero, Span<T> tile, int m, int k, int i0, int pc0, int kc)
    {
        T* a0 = i0 + 0 < m ? a + (long)(i0 + 0) * k + pc0 : zero;
        T* a1 = i0 + 1 < m ? a + (long)(i0 + 1) * k + pc0 : zero;
        T* a2 = i0 + 2 < m ? a + (long)(i0 + 2) * k + pc0 : zero;
        T* a3 = i0 + 3 < m ? a + (long)(i0 + 3) * k + pc0 : zero;
        T* a4 = i0 + 4 < m ? a + (long)(i0 + 4) * k + pc0 : zero;
        T* a5 = i0 + 5 < m ? a + (long)(i0 + 5) * k + pc0 : zero;
        Vector512<T> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<T> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        int w = W, nr = 2 * W;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(bp + p * nr);
            var b1 = Vector512.Load(bp + p * nr + w);
            var x = Vector512.Create(a0[p]); c00 += x * b0; c01 += x * b1;
            x = Vector512.Create(a1[p]); c10 += x * b0; c11 += x * b1;
            x = Vector512.Create(a2[p]); c20 += x * b0; c21 += x * b1;
            x = Vector512.Create(a3[p]); c30 += x * b0; c31 += x * b1;
            x = Vector512.Create(a4[p]); c40 += x * b0; c41 += x * b1;
            x = Vector512.Create(a5[p]); c50 += x * b0; c51 += x * b1;
        }
        c00.CopyTo(tile[(0 * nr)..]); c01.CopyTo(tile[(0 * nr + w)..]);
        c10.CopyTo(tile[(1 * nr)..]); c11.CopyTo(tile[(1 * nr + w)..]);
        c20.CopyTo(tile[(2 * nr)..]); c21.CopyTo(tile[(2 * nr + w)..]);
        c30.CopyTo(tile[(3 * nr)..]); c31.CopyTo(tile[(3 * nr + w)..]);
        c40.CopyTo(tile[(4 * nr)..]); c41.CopyTo(tile[(4 * nr + w)..]);
        c50.CopyTo(tile[(5 * nr)..]); c51.CopyTo(tile[(5 * nr + w)..]);
    }
}
