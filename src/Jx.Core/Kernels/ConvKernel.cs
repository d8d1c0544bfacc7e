using System.Numerics;

namespace Jx;

/// <summary>The eager kernel of conv_general_dilated: operands are brought to canonical layout (lhs N,C,spatial; rhs
/// O,I,spatial), then for each group the input windows are unrolled into a column matrix (im2col) of shape
/// (I·K, columns) — with padding, lhs dilation (holes) and rhs dilation resolved through one index table — and one
/// GEMM per group and column tile computes (O/G, I·K)·(I·K, columns). float32 and float64 run natively; float16 and
/// bfloat16 in float32; integers in float64.</summary>
internal static class ConvKernel
{
    private delegate void GemmFn<T>(ReadOnlySpan<T> a, ReadOnlySpan<T> b, Span<T> c, int m, int n, int k);

    /// <summary>Elements of the column matrix per tile (bounds its memory); tests lower it to exercise tiling.</summary>
    internal static int ColumnBudget { get; set; } = 1 << 22;

    public static Tensor Run(Tensor lhs, Tensor rhs, ConvGeometry g, Aval o)
    {
        var device = lhs.Buffer!.Device;
        var lc = Arrange(lhs, g.Dn.LhsSpec);
        var rc = Arrange(rhs, g.Dn.RhsSpec);
        int outSize = g.OutBatch * g.OutFeatures * g.OutSpatial.Aggregate(1, (a, b) => a * b);
        var canonShape = new[] { g.OutBatch, g.OutFeatures }.Concat(g.OutSpatial).ToArray();
        Array result;
        DType compute;
        switch (lhs.DType)
        {
            case DType.Float32 or DType.Float16 or DType.BFloat16:
            {
                compute = DType.Float32;
                var y = new float[outSize];
                Compute(ElementwiseEngine.ToFloat(lc.Buffer!), ElementwiseEngine.ToFloat(rc.Buffer!), y, g, Gemm.Multiply);
                result = y;
                break;
            }
            case DType.Float64:
            {
                compute = DType.Float64;
                var y = new double[outSize];
                Compute(lc.Buffer!.Array<double>(), rc.Buffer!.Array<double>(), y, g, Gemm.Multiply);
                result = y;
                break;
            }
            default:
            {
                // Integers: exact in float64 while every partial sum stays below 2^53.
                compute = DType.Float64;
                var y = new double[outSize];
                Compute(lc.ToDoubleArray(), rc.ToDoubleArray(), y, g, Gemm.Multiply);
                result = y;
                break;
            }
        }
        var canon = Tensor.Own(result, compute, new Shape(canonShape), device);
        var outT = Permute(canon, g.Dn.OutSpec);
        if (outT.DType == o.DType) return new Tensor(outT.Buffer!, o.Shape, o.Weak);
        return Conversions.Convert(outT, o);
    }

    /// <summary>Canonical layout: result dim j is x's dim spec[j] (a copy only when the layout differs).</summary>
    private static Tensor Arrange(Tensor x, int[] spec)
    {
        if (spec.Select((a, i) => a == i).All(b => b)) return x;
        var st = x.Shape.Strides();
        var shape = spec.Select(a => x.Shape[a]).ToArray();
        return KernelUtil.StridedTensor(x, 0, shape, spec.Select(a => st[a]).ToArray(), new Aval(new Shape(shape), x.DType));
    }

    /// <summary>From canonical (batch, feature, spatial...) to the out_spec layout: canonical dim j becomes dim outSpec[j].</summary>
    private static Tensor Permute(Tensor canon, int[] outSpec)
    {
        if (outSpec.Select((a, i) => a == i).All(b => b)) return canon;
        var cs = canon.Shape.Strides();
        int rank = outSpec.Length;
        var shape = new int[rank];
        var strides = new int[rank];
        for (int j = 0; j < rank; j++) { shape[outSpec[j]] = canon.Shape[j]; strides[outSpec[j]] = cs[j]; }
        return KernelUtil.StridedTensor(canon, 0, shape, strides, new Aval(new Shape(shape), canon.DType));
    }

    /// <summary>For each spatial dim, the input index read by output position y and kernel tap k, or −1 when that tap
    /// falls on padding or on a hole of the lhs dilation: table[y·K + k].</summary>
    internal static int[] AxisTable(int inSize, int outSize, int window, int stride, int lo, int baseDilation, int windowDilation)
    {
        var t = new int[outSize * window];
        int dilated = Convolution.Dilate(inSize, baseDilation);
        for (int y = 0; y < outSize; y++)
            for (int k = 0; k < window; k++)
            {
                long q = (long)y * stride + (long)k * windowDilation - lo;
                t[y * window + k] = q < 0 || q >= dilated || q % baseDilation != 0 ? -1 : (int)(q / baseDilation);
            }
        return t;
    }

    /// <summary>index[k·P + p]: the flat spatial offset into one input channel read by kernel tap k (flattened over the
    /// kernel's spatial dims) at output position p, or −1 for a zero.</summary>
    private static int[] IndexTable(ConvGeometry g, int K, int P)
    {
        int s = g.SpatialRank;
        var tables = new int[s][];
        for (int d = 0; d < s; d++)
            tables[d] = AxisTable(g.InSpatial[d], g.OutSpatial[d], g.KernelSpatial[d], g.Strides[d], g.Padding[d].Lo, g.LhsDilation[d], g.RhsDilation[d]);
        var inStrides = KernelUtil.StridesOf(g.InSpatial);
        var index = new int[(long)K * P <= int.MaxValue ? K * P : throw new ShapeError($"conv_general_dilated: kernel taps × output positions ({K} × {P}) is too large for the eager kernel")];
        if (index.Length == 0) return index;
        KernelUtil.For(K, (k0, k1) =>
        {
            var kIdx = new int[s];
            var yIdx = new int[s];
            for (int k = k0; k < k1; k++)
            {
                int rem = k;
                for (int d = s - 1; d >= 0; d--) { kIdx[d] = rem % g.KernelSpatial[d]; rem /= g.KernelSpatial[d]; }
                Array.Clear(yIdx);
                var row = index.AsSpan(k * P, P);
                for (int p = 0; p < P; p++)
                {
                    int off = 0;
                    for (int d = 0; d < s; d++)
                    {
                        int v = tables[d][yIdx[d] * g.KernelSpatial[d] + kIdx[d]];
                        if (v < 0) { off = -1; break; }
                        off += v * inStrides[d];
                    }
                    row[p] = off;
                    for (int d = s - 1; d >= 0; d--) { if (++yIdx[d] < g.OutSpatial[d]) break; yIdx[d] = 0; }
                }
            }
        }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, P)));
        return index;
    }

    private static void Compute<T>(T[] x, T[] w, T[] y, ConvGeometry g, GemmFn<T> gemm) where T : unmanaged, INumber<T>
    {
        int P = g.OutSpatial.Aggregate(1, (a, b) => a * b);
        int K = g.KernelSpatial.Aggregate(1, (a, b) => a * b);
        int inSp = g.InSpatial.Aggregate(1, (a, b) => a * b);
        int groups = Math.Max(g.FeatureGroups, g.BatchGroups);
        int I = g.KernelInFeatures, C = g.InFeatures, O = g.OutFeatures, Og = O / groups, nOut = g.OutBatch;
        long ikLong = (long)I * K;
        if (y.Length == 0) return;
        if (ikLong == 0) return; // empty contraction: the output stays zero
        if (ikLong > int.MaxValue) throw new ShapeError($"conv_general_dilated: contraction size {I} × {K} is too large for the eager kernel");
        int IK = (int)ikLong;
        var index = IndexTable(g, K, P);
        long totalCols = (long)nOut * P;
        int Q = (int)Math.Max(1, Math.Min(totalCols, ColumnBudget / IK));
        var col = new T[(long)IK * Q];
        var tmp = new T[(long)Og * Q];
        bool featureGrouped = g.FeatureGroups > 1, batchGrouped = g.BatchGroups > 1;

        for (long q0 = 0; q0 < totalCols; q0 += Q)
        {
            int cols = (int)Math.Min(Q, totalCols - q0);
            for (int grp = 0; grp < groups; grp++)
            {
                int grpLocal = grp;
                long q0Local = q0;
                // im2col: row r = (i, k), column c = global column q0 + c = (n', p).
                KernelUtil.For(IK, (r0, r1) =>
                {
                    for (int r = r0; r < r1; r++)
                    {
                        int i = r / K, k = r % K;
                        int chan = featureGrouped ? grpLocal * I + i : i;
                        var dst = col.AsSpan(r * cols, cols);
                        var idx = index.AsSpan(k * P, P);
                        long q = q0Local;
                        int c = 0;
                        while (c < cols)
                        {
                            int n = (int)(q / P), p = (int)(q % P);
                            int run = Math.Min(cols - c, P - p);
                            int batch = batchGrouped ? grpLocal * nOut + n : n;
                            long baseOff = ((long)batch * C + chan) * inSp;
                            for (int t = 0; t < run; t++)
                            {
                                int o = idx[p + t];
                                dst[c + t] = o < 0 ? T.Zero : x[baseOff + o];
                            }
                            c += run; q += run;
                        }
                    }
                }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, cols)));

                var wBlock = w.AsSpan(grp * Og * IK, Og * IK);
                // One whole output image at once: the GEMM writes straight into y.
                if (cols == P && q0 % P == 0)
                {
                    int n = (int)(q0 / P);
                    gemm(wBlock, col.AsSpan(0, IK * cols), y.AsSpan((n * O + grp * Og) * P, Og * P), Og, cols, IK);
                    continue;
                }
                gemm(wBlock, col.AsSpan(0, IK * cols), tmp.AsSpan(0, Og * cols), Og, cols, IK);
                for (int og = 0; og < Og; og++)
                {
                    long q = q0;
                    int c = 0;
                    while (c < cols)
                    {
                        int n = (int)(q / P), p = (int)(q % P);
                        int run = Math.Min(cols - c, P - p);
                        tmp.AsSpan(og * cols + c, run).CopyTo(y.AsSpan(((n * O) + grp * Og + og) * P + p, run));
                        c += run; q += run;
                    }
                }
            }
        }
    }
}
