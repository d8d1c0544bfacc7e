namespace Jx;

/// <summary>The contraction and batch dimensions of a dot_general, as in lax.dot_general.</summary>
public sealed record DotDimensionNumbers(int[] LhsContract, int[] RhsContract, int[] LhsBatch, int[] RhsBatch)
{
    public ParamList ToParam() => new(new ParamList(new IntList(LhsContract), new IntList(RhsContract)), new ParamList(new IntList(LhsBatch), new IntList(RhsBatch)));

    public static DotDimensionNumbers FromParam(object? p)
    {
        var l = (ParamList)p!;
        var c = (ParamList)l[0]!;
        var b = (ParamList)l[1]!;
        return new(((IntList)c[0]!).ToArray(), ((IntList)c[1]!).ToArray(), ((IntList)b[0]!).ToArray(), ((IntList)b[1]!).ToArray());
    }
}

/// <summary>For one product's dimension numbers and operand ranks: the free dimensions of each side and the orders
/// that make the lhs (batch, free, contract) or its transpose and the rhs (batch, contract, free) or its
/// transpose. Parsed once per dimension-numbers parameter and operand ranks: a product in a loop does not redo it.</summary>
internal sealed class DotLayout
{
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<object, DotLayout> Last = new();

    /// <summary>The layout for a dot_general's dimension-numbers parameter (an immutable parameter list) and operand ranks.</summary>
    public static DotLayout For(object dimensionNumbers, int lRank, int rRank)
    {
        if (Last.TryGetValue(dimensionNumbers, out var last) && last.LRank == lRank && last.RRank == rRank) return last;
        var layout = new DotLayout(DotDimensionNumbers.FromParam(dimensionNumbers), lRank, rRank);
        Last.AddOrUpdate(dimensionNumbers, layout);
        return layout;
    }

    public readonly DotDimensionNumbers Dn;
    public readonly int LRank, RRank;
    public readonly int[] LFree, RFree, LPlain, LTrans, RPlain, RTrans;
    public readonly bool LPlainIsIdentity, LTransIsIdentity, RPlainIsIdentity, RTransIsIdentity;

    private DotLayout(DotDimensionNumbers dn, int lRank, int rRank)
    {
        Dn = dn;
        LRank = lRank; RRank = rRank;
        LFree = Linalg.Free(lRank, dn.LhsContract, dn.LhsBatch);
        RFree = Linalg.Free(rRank, dn.RhsContract, dn.RhsBatch);
        LPlain = [.. dn.LhsBatch, .. LFree, .. dn.LhsContract];
        LTrans = [.. dn.LhsBatch, .. dn.LhsContract, .. LFree];
        RPlain = [.. dn.RhsBatch, .. dn.RhsContract, .. RFree];
        RTrans = [.. dn.RhsBatch, .. RFree, .. dn.RhsContract];
        LPlainIsIdentity = Linalg.IsIdentity(LPlain); LTransIsIdentity = Linalg.IsIdentity(LTrans);
        RPlainIsIdentity = Linalg.IsIdentity(RPlain); RTransIsIdentity = Linalg.IsIdentity(RTrans);
    }
}

/// <summary>Linear-algebra primitives: dot_general (matrix products through BLAS or the managed kernel).</summary>
[PrimitiveFamily]
public static class Linalg
{
    /// <summary>dot_general[dimension_numbers, precision, preferred_element_type]: output dims are batch, lhs free, rhs free.</summary>
    public static readonly Primitive DotGeneral = new("dot_general", "linalg",
        (ins, p) =>
        {
            Elementwise.Check("dot_general", ins, 2);
            var (l, r) = (ins[0], ins[1]);
            var dn = DotDimensionNumbers.FromParam(p["dimension_numbers"]);
            ShapeOps.CheckAxes("dot_general (lhs)", [.. dn.LhsContract, .. dn.LhsBatch], l.Rank);
            ShapeOps.CheckAxes("dot_general (rhs)", [.. dn.RhsContract, .. dn.RhsBatch], r.Rank);
            if (dn.LhsContract.Length != dn.RhsContract.Length || dn.LhsBatch.Length != dn.RhsBatch.Length)
                throw new ShapeError($"dot_general: contracting/batch dimension lists differ in length: {Describe(dn)}");
            for (int i = 0; i < dn.LhsContract.Length; i++)
                if (l.Shape[dn.LhsContract[i]] != r.Shape[dn.RhsContract[i]])
                    throw new ShapeError($"dot_general requires contracting dimensions to have the same shape, got lhs {l.Shape} dim {dn.LhsContract[i]} ({l.Shape[dn.LhsContract[i]]}) and rhs {r.Shape} dim {dn.RhsContract[i]} ({r.Shape[dn.RhsContract[i]]})");
            for (int i = 0; i < dn.LhsBatch.Length; i++)
                if (l.Shape[dn.LhsBatch[i]] != r.Shape[dn.RhsBatch[i]])
                    throw new ShapeError($"dot_general requires batch dimensions to have the same shape, got lhs {l.Shape} and rhs {r.Shape} ({Describe(dn)})");
            if (l.DType != r.DType) throw new DTypeError($"dot_general requires operands of one dtype, got {l.DType.Name()} and {r.DType.Name()}");
            if (l.DType == DType.Bool) throw new DTypeError("dot_general does not take bool operands");
            var shape = dn.LhsBatch.Select(d => l.Shape[d])
                .Concat(Free(l.Rank, dn.LhsContract, dn.LhsBatch).Select(d => l.Shape[d]))
                .Concat(Free(r.Rank, dn.RhsContract, dn.RhsBatch).Select(d => r.Shape[d])).ToArray();
            var outType = p.Has("preferred_element_type") && p["preferred_element_type"] is DType d0 ? d0 : l.DType;
            return [new Aval(new Shape(shape), outType, l.Weak && r.Weak)];
        },
        (xs, p, o) => [DotKernel(xs[0], xs[1], p["dimension_numbers"]!, o[0], null)]);

    /// <summary>dot_general's kernel writing its result into <paramref name="into"/> (a compiled program's reused
    /// buffer) when it can: float32 or float64 operands and result of one dtype, and an array of exactly the result's
    /// size; otherwise into a fresh array. The caller guarantees no other live value uses <paramref name="into"/>.</summary>
    internal static Tensor DotGeneralInto(Tensor l, Tensor r, Params p, Aval o, Array? into) => DotKernel(l, r, p["dimension_numbers"]!, o, into);

    /// <summary>Whether <see cref="DotGeneralInto"/> writes a result of this aval into a given buffer.</summary>
    internal static bool WritesInto(Aval o) => o.DType is DType.Float32 or DType.Float64;

    /// <summary>A dot_general of these avals as GEMMs over raw memory, for a compiled loop that keeps its values in pinned
    /// buffers: null unless both operands and the result are float32, or all float64, and each operand is stored as
    /// (B, M, K) / (B, K, N) or their transposes (what <see cref="DotKernel"/> reads in place, without copying).</summary>
    internal static GemmCall? PlanGemm(Params p, Aval l, Aval r, Aval o)
    {
        if (l.DType != r.DType || l.DType != o.DType || l.DType is not (DType.Float32 or DType.Float64)) return null;
        var lay = DotLayout.For(p["dimension_numbers"]!, l.Rank, r.Rank);
        if (!(lay.LPlainIsIdentity || lay.LTransIsIdentity) || !(lay.RPlainIsIdentity || lay.RTransIsIdentity)) return null;
        var dn = lay.Dn;
        return new GemmCall(Product(l.Shape, dn.LhsBatch), Product(l.Shape, lay.LFree), Product(r.Shape, lay.RFree), Product(l.Shape, dn.LhsContract),
            !lay.LPlainIsIdentity, !lay.RPlainIsIdentity, l.DType == DType.Float64);
    }

    internal static int[] Free(int rank, int[] contract, int[] batch) => Enumerable.Range(0, rank).Where(i => !contract.Contains(i) && !batch.Contains(i)).ToArray();

    private static string Describe(DotDimensionNumbers dn) =>
        $"contracting {ShapeOps.Fmt(dn.LhsContract)}×{ShapeOps.Fmt(dn.RhsContract)}, batch {ShapeOps.Fmt(dn.LhsBatch)}×{ShapeOps.Fmt(dn.RhsBatch)}";

    private static int Product(Shape s, int[] dims)
    {
        int p = 1;
        foreach (var d in dims) p *= s[d];
        return p;
    }

    /// <summary>Moves lhs to (B, M, K) and rhs to (B, K, N), copying only when the layout differs, then runs GEMMs.</summary>
    private static Tensor DotKernel(Tensor l, Tensor r, object dimensionNumbers, Aval o, Array? into)
    {
        var lay = DotLayout.For(dimensionNumbers, l.Rank, r.Rank);
        var dn = lay.Dn;
        int B = Product(l.Shape, dn.LhsBatch);
        int M = Product(l.Shape, lay.LFree);
        int K = Product(l.Shape, dn.LhsContract);
        int N = Product(r.Shape, lay.RFree);
        // Each operand is read in place when it is already (B, M, K) / (B, K, N) or their transposes (B, K, M) /
        // (B, N, K), which GEMM reads with a transpose flag; any other layout is copied once into (B, M, K) / (B, K, N).
        bool transA = !lay.LPlainIsIdentity && lay.LTransIsIdentity, transB = !lay.RPlainIsIdentity && lay.RTransIsIdentity;
        var lt = transA || lay.LPlainIsIdentity ? l : Arrange(l, lay.LPlain);
        var rt = transB || lay.RPlainIsIdentity ? r : Arrange(r, lay.RPlain);
        var compute = l.DType switch { DType.Float16 or DType.BFloat16 => DType.Float32, var d => d };
        Array result;
        switch (compute)
        {
            case DType.Float32:
            {
                var a = l.DType == DType.Float32 ? lt.Buffer!.Array<float>() : ElementwiseEngine.ToFloat(lt.Buffer!);
                var b = r.DType == DType.Float32 ? rt.Buffer!.Array<float>() : ElementwiseEngine.ToFloat(rt.Buffer!);
                // every GEMM path writes all of C
                var c = into is float[] given && given.Length == B * M * N && o.DType == DType.Float32 ? given : GC.AllocateUninitializedArray<float>(B * M * N);
                BatchedGemm(a, b, c, B, M, N, K, transA, transB);
                result = c;
                break;
            }
            case DType.Float64:
            {
                var a = lt.Buffer!.Array<double>();
                var b = rt.Buffer!.Array<double>();
                var c = into is double[] given && given.Length == B * M * N && o.DType == DType.Float64 ? given : GC.AllocateUninitializedArray<double>(B * M * N);
                BatchedGemm(a, b, c, B, M, N, K, transA, transB);
                result = c;
                break;
            }
            default:
            {
                // The loops below read plain (B, M, K) / (B, K, N) layouts: an operand GEMM would read transposed is
                // arranged here too.
                var a = (transA ? Arrange(l, lay.LPlain) : lt).ToDoubleArray();
                var b = (transB ? Arrange(r, lay.RPlain) : rt).ToDoubleArray();
                var c = new double[B * M * N];
                for (int bi = 0; bi < B; bi++)
                    for (int i = 0; i < M; i++)
                        for (int kk = 0; kk < K; kk++)
                        {
                            double av = a[(bi * M + i) * K + kk];
                            for (int j = 0; j < N; j++) c[(bi * M + i) * N + j] += av * b[(bi * K + kk) * N + j];
                        }
                var ct = Tensor.Own(c, DType.Float64, o.Shape, l.Buffer!.Device);
                return Conversions.Convert(ct, o);
            }
        }
        return compute == o.DType ? new Tensor(new Buffer(result, compute, l.Buffer!.Device), o)
            : Conversions.Convert(Tensor.Own(result, compute, o.Shape, l.Buffer!.Device), o);
    }

    private delegate void GemmFn<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k, bool transA, bool transB);

    private static void BatchedGemm(float[] a, float[] b, float[] c, int B, int M, int N, int K, bool transA, bool transB) => BatchedGemm<float>(a, b, c, B, M, N, K, transA, transB, Gemm.Multiply);
    private static void BatchedGemm(double[] a, double[] b, double[] c, int B, int M, int N, int K, bool transA, bool transB) => BatchedGemm<double>(a, b, c, B, M, N, K, transA, transB, Gemm.Multiply);

    internal static bool IsIdentity(int[] perm)
    {
        for (int i = 0; i < perm.Length; i++) if (perm[i] != i) return false;
        return true;
    }

    /// <summary>B independent products of (M, K)·(K, N) blocks (each optionally stored transposed). Outer products
    /// (K = 1, where a transposed block has the same layout) skip the GEMM call overhead and run as vectorized row
    /// scaling; small products run in parallel over the batch.</summary>
    private static void BatchedGemm<T>(T[] a, T[] b, T[] c, int B, int M, int N, int K, bool transA, bool transB, GemmFn<T> gemm) where T : unmanaged, System.Numerics.INumber<T>
    {
        if (K == 1 && B > 1) { OuterProducts(a, b, c, B, M, N); return; }
        if (B > 1 && (long)M * N * K < 1 << 16) { SmallProductsInParallel(a, b, c, B, M, N, K, transA, transB, gemm); return; }
        for (int i = 0; i < B; i++) gemm(a.AsSpan(i * M * K, M * K), b.AsSpan(i * K * N, K * N), c.AsSpan(i * M * N, M * N), M, N, K, transA, transB);
    }

    // The parallel paths are methods of their own so that their closures are allocated only when they run.
    private static void OuterProducts<T>(T[] a, T[] b, T[] c, int B, int M, int N) where T : unmanaged, System.Numerics.INumber<T> =>
        KernelUtil.For(B * M, (s, e) =>
        {
            for (int r = s; r < e; r++)
                System.Numerics.Tensors.TensorPrimitives.Multiply(new ReadOnlySpan<T>(b, r / M * N, N), a[r], c.AsSpan(r * N, N));
        }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, N)));

    private static void SmallProductsInParallel<T>(T[] a, T[] b, T[] c, int B, int M, int N, int K, bool transA, bool transB, GemmFn<T> gemm) where T : unmanaged, System.Numerics.INumber<T> =>
        KernelUtil.For(B, (s, e) =>
        {
            for (int i = s; i < e; i++) gemm(a.AsSpan(i * M * K, M * K), b.AsSpan(i * K * N, K * N), c.AsSpan(i * M * N, M * N), M, N, K, transA, transB);
        }, 1);

    private static Tensor Arrange(Tensor x, int[] perm)
    {
        if (IsIdentity(perm)) return x;
        var st = x.Shape.Strides();
        var shape = perm.Select(a => x.Shape[a]).ToArray();
        return KernelUtil.StridedTensor(x, 0, shape, perm.Select(a => st[a]).ToArray(), new Aval(new Shape(shape), x.DType));
    }
}

/// <summary>One dot_general as B GEMMs of (M, K)·(K, N) blocks over raw memory (<see cref="Linalg.PlanGemm"/>); each
/// operand block is read in place, transposed when its flag says so.</summary>
internal sealed record GemmCall(int B, int M, int N, int K, bool TransA, bool TransB, bool Float64)
{
    /// <summary>C = A·B for every batch (<paramref name="c"/> is overwritten), or with <paramref name="accumulate"/>
    /// C += A·B. The caller keeps the memory pinned.</summary>
    public unsafe void Run(nint a, nint b, nint c, bool accumulate = false)
    {
        int mk = M * K, kn = K * N, mn = M * N;
        for (int i = 0; i < B; i++)
        {
            if (Float64)
                Gemm.Multiply(new ReadOnlySpan<double>((double*)a + (long)i * mk, mk), new ReadOnlySpan<double>((double*)b + (long)i * kn, kn),
                    new Span<double>((double*)c + (long)i * mn, mn), M, N, K, TransA, TransB, accumulate);
            else
                Gemm.Multiply(new ReadOnlySpan<float>((float*)a + (long)i * mk, mk), new ReadOnlySpan<float>((float*)b + (long)i * kn, kn),
                    new Span<float>((float*)c + (long)i * mn, mn), M, N, K, TransA, TransB, accumulate);
        }
    }
}
