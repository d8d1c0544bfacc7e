namespace Jx.Tests;

/// <summary>conv_general_dilated, reduce_window_{sum,max,min}, their Lax wrappers and Flax-style pooling.</summary>
public class ConvolutionTests
{
    private static Tensor F(float[] v, params int[] shape) => Tensor.FromArray(v, new Shape(shape));
    private static Tensor D(double[] v, params int[] shape) => Tensor.FromArray(v, new Shape(shape));
    private static float[] Range(int n) => Enumerable.Range(0, n).Select(i => (float)i).ToArray();

    // ---------------- exact convolution cases ----------------

    [Fact]
    public void Conv1DValidIsCrossCorrelation()
    {
        // lax.conv computes a cross-correlation: y[i] = Σ_k x[i + k]·w[k].
        var x = F([1, 2, 3, 4], 1, 1, 4);
        var w = F([1, 0, -1], 1, 1, 3);
        var y = Lax.Conv(x, w, [1], "VALID");
        Assert.Equal(new Shape(1, 1, 2), y.Shape);
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(new float[] { -2, -2 }, y.ToArray<float>());
    }

    [Fact]
    public void Conv1DSamePadsOneEachSide()
    {
        var x = F([1, 2, 3, 4], 1, 1, 4);
        var w = F([1, 0, -1], 1, 1, 3);
        var y = Lax.Conv(x, w, [1], "SAME");
        // padded [0, 1, 2, 3, 4, 0]
        Assert.Equal(new float[] { -2, -2, -2, 3 }, y.ToArray<float>());
        Assert.Equal(y.ToArray<float>(), Lax.Conv(x, w, [1], [(1, 1)]).ToArray<float>());
    }

    [Fact]
    public void Conv2DValidStridePaddingAndRhsDilation()
    {
        var x = F(Range(16), 1, 1, 4, 4); // x[i, j] = 4i + j
        var w = Np.Ones([1, 1, 2, 2]);
        // 2×2 window sums: 16i + 4j + 10
        Assert.Equal(new float[] { 10, 14, 18, 26, 30, 34, 42, 46, 50 }, Lax.Conv(x, w, [1, 1], "VALID").ToArray<float>());
        Assert.Equal(new float[] { 10, 18, 42, 50 }, Lax.Conv(x, w, [2, 2], "VALID").ToArray<float>());
        // padding (1, 1) on both spatial dims, stride 2
        var padded = Lax.Conv(x, w, [2, 2], [(1, 1), (1, 1)]);
        Assert.Equal(new Shape(1, 1, 3, 3), padded.Shape);
        Assert.Equal(new float[] { 0, 3, 3, 12, 30, 18, 12, 27, 15 }, padded.ToArray<float>());
        // rhs dilation 2: taps at (0,0), (0,2), (2,0), (2,2) → 16i + 4j + 20
        var atrous = Lax.ConvGeneralDilated(x, w, [1, 1], [(0, 0), (0, 0)], rhsDilation: [2, 2]);
        Assert.Equal(new Shape(1, 1, 2, 2), atrous.Shape);
        Assert.Equal(new float[] { 20, 24, 36, 40 }, atrous.ToArray<float>());
    }

    [Fact]
    public void LhsDilationInsertsHoles()
    {
        // [1, 2, 3] dilated by 2 is [1, 0, 2, 0, 3]; correlate with [1, 10].
        var y = Lax.ConvGeneralDilated(F([1, 2, 3], 1, 1, 3), F([1, 10], 1, 1, 2), [1], [(0, 0)], lhsDilation: [2]);
        Assert.Equal(new float[] { 1, 20, 2, 30 }, y.ToArray<float>());
    }

    [Fact]
    public void NegativePaddingCrops()
    {
        var y = Lax.ConvGeneralDilated(F([1, 2, 3, 4, 5], 1, 1, 5), F([1, 1], 1, 1, 2), [1], [(-1, 0)]);
        Assert.Equal(new float[] { 5, 7, 9 }, y.ToArray<float>());
        var z = Lax.ConvGeneralDilated(F([1, 2, 3, 4, 5], 1, 1, 5), F([1, 1], 1, 1, 2), [1], [(-1, -2)]);
        Assert.Equal(new float[] { 5 }, z.ToArray<float>());
    }

    [Fact]
    public void MultiChannelSumsOverInputFeatures()
    {
        // two input channels, two output channels: out[o] = Σ_c x[c] ⋆ w[o, c]
        var x = F([1, 2, 3, /* c1 */ 10, 20, 30], 1, 2, 3);
        var w = F([1, 0, /* o0,c1 */ 0, 1, /* o1,c0 */ 1, 1, /* o1,c1 */ 0, 0], 2, 2, 2);
        var y = Lax.Conv(x, w, [1], "VALID");
        Assert.Equal(new Shape(1, 2, 2), y.Shape);
        Assert.Equal(new float[] { 1 + 20, 2 + 30, 3, 5 }, y.ToArray<float>());
    }

    [Fact]
    public void FeatureGroupsGiveDepthwiseConvolution()
    {
        var x = F([1, 2, 3, /* c1 */ 10, 20, 30], 1, 2, 3);
        var w = F([1, 1, /* o1 */ 1, -1], 2, 1, 2);
        var y = Lax.ConvGeneralDilated(x, w, [1], [(0, 0)], featureGroupCount: 2);
        Assert.Equal(new Shape(1, 2, 2), y.Shape);
        Assert.Equal(new float[] { 3, 5, -10, -10 }, y.ToArray<float>());

        // channel multiplier 2: outputs 0, 1 read channel 0; outputs 2, 3 read channel 1
        var w2 = F([1, 0, 0, 1, 1, 0, 0, 1], 4, 1, 2);
        var y2 = Lax.ConvGeneralDilated(x, w2, [1], [(0, 0)], featureGroupCount: 2);
        Assert.Equal(new float[] { 1, 2, 2, 3, 10, 20, 20, 30 }, y2.ToArray<float>());
    }

    [Fact]
    public void BatchGroupCountSplitsBatchAcrossOutputFeatures()
    {
        // lhs batch 2 in 2 groups; output feature block g reads lhs batch group g: out batch is 2 / 2 = 1.
        var x = F([1, 2, 3, /* n1 */ 4, 5, 6], 2, 1, 3);
        var w = F([1, 1, /* o1 */ 1, 0], 2, 1, 2);
        var y = Lax.ConvGeneralDilated(x, w, [1], [(0, 0)], batchGroupCount: 2);
        Assert.Equal(new Shape(1, 2, 2), y.Shape);
        Assert.Equal(new float[] { 3, 5, 4, 5 }, y.ToArray<float>());

        // out batch 2: lhs batch (4) = groups of 2 consecutive images.
        var x4 = F([1, 1, 2, 2, 3, 3, 4, 4], 4, 1, 2);
        var w4 = F([1, 0, /* o1 */ 0, 1], 2, 1, 2);
        var y4 = Lax.ConvGeneralDilated(x4, w4, [1], [(0, 0)], batchGroupCount: 2);
        Assert.Equal(new Shape(2, 2, 1), y4.Shape);
        // out[n, 0] = image n (group 0) · [1, 0]; out[n, 1] = image 2 + n (group 1) · [0, 1]
        Assert.Equal(new float[] { 1, 3, 2, 4 }, y4.ToArray<float>());
    }

    [Fact]
    public void NoSpatialDimensionsIsAMatrixProduct()
    {
        var x = F([1, 2, 3, 4, 5, 6], 2, 3);
        var w = F([1, 0, 0, 0, 1, 1], 2, 3);
        var y = Lax.ConvGeneralDilated(x, w, [], []);
        Assert.Equal(new Shape(2, 2), y.Shape);
        Assert.Equal(new float[] { 1, 5, 4, 11 }, y.ToArray<float>());
    }

    [Fact]
    public void EmptyOperandsAndOutputs()
    {
        Assert.Equal(new Shape(0, 2, 3), Lax.Conv(Np.Ones([0, 1, 4]), Np.Ones([2, 1, 2]), [1], "VALID").Shape);
        // kernel larger than the input: no output positions (JAX clamps the size at 0)
        Assert.Equal(new Shape(1, 1, 0), Lax.Conv(Np.Ones([1, 1, 2]), Np.Ones([1, 1, 3]), [1], "VALID").Shape);
        // no input features: an empty contraction gives zeros
        var z = Lax.Conv(Np.Ones([1, 0, 4]), Np.Ones([2, 0, 2]), [1], "VALID");
        Assert.Equal(new Shape(1, 2, 3), z.Shape);
        Assert.Equal(new float[6], z.ToArray<float>());
        Assert.Equal(new Shape(0), Lax.ReduceWindowMax(Np.Ones([2]), [3], [1], [(0, 0)]).Shape);
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity }, Lax.ReduceWindowMax(Np.Ones([0]), [1], [1], [(1, 1)]).ToArray<float>());
    }

    [Fact]
    public void DimensionNumberStringsParseLikeLax()
    {
        ConvDimensionNumbers nhwc = ("NHWC", "HWIO", "NHWC");
        Assert.Equal(new[] { 0, 3, 1, 2 }, nhwc.LhsSpec);
        Assert.Equal(new[] { 3, 2, 0, 1 }, nhwc.RhsSpec);
        Assert.Equal(new[] { 0, 3, 1, 2 }, nhwc.OutSpec);
        Assert.Equal(ConvDimensionNumbers.Default(4), ConvDimensionNumbers.Parse("NCHW", "OIHW", "NCHW"));
        // Spatial dims follow the kernel's order: lhs "NWHC" with kernel "HWIO" puts H (index 2) first.
        var odd = ConvDimensionNumbers.Parse("NWHC", "HWIO", "NCWH");
        Assert.Equal(new[] { 0, 3, 2, 1 }, odd.LhsSpec);
        Assert.Equal(new[] { 0, 1, 3, 2 }, odd.OutSpec);
        Assert.Equal("ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))", nhwc.ToString());
    }

    [Fact]
    public void NhwcLayoutMatchesNchw()
    {
        var rng = new System.Random(3);
        var xv = Enumerable.Range(0, 2 * 3 * 5 * 6).Select(_ => (float)Math.Round(rng.NextDouble() * 8 - 4)).ToArray();
        var wv = Enumerable.Range(0, 4 * 3 * 3 * 2).Select(_ => (float)Math.Round(rng.NextDouble() * 8 - 4)).ToArray();
        var xNchw = F(xv, 2, 3, 5, 6);
        var wOihw = F(wv, 4, 3, 3, 2);
        var expect = Lax.ConvGeneralDilated(xNchw, wOihw, [2, 1], [(1, 0), (0, 1)], rhsDilation: [1, 2]);
        var xNhwc = Lax.Transpose(xNchw, [0, 2, 3, 1]);
        var wHwio = Lax.Transpose(wOihw, [2, 3, 1, 0]);
        var got = Lax.ConvGeneralDilated(xNhwc, wHwio, [2, 1], [(1, 0), (0, 1)], rhsDilation: [1, 2], dimensionNumbers: ("NHWC", "HWIO", "NHWC"));
        // H: (5 + 1 − 3) / 2 + 1 = 2; W: 6 + 1 − 3 + 1 = 5 (kernel width 2 dilated to 3)
        Assert.Equal(new Shape(2, 2, 5, 4), got.Shape);
        Assert.Equal(Lax.Transpose(expect, [0, 2, 3, 1]).ToArray<float>(), got.ToArray<float>());
    }

    [Fact]
    public void SamePaddingShapes()
    {
        var x = Np.Ones([1, 5, 5, 3]);
        var k = Np.Ones([3, 3, 3, 8]);
        var y = Lax.ConvGeneralDilated(x, k, [2, 2], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC"));
        Assert.Equal(new Shape(1, 3, 3, 8), y.Shape);
        // centre window sees all 27 ones; the corner output (0, 0) sees 2×2×3 = 12.
        Assert.Equal(12f, y.ToArray<float>()[0]);
        Assert.Equal(27f, y.ToArray<float>()[(1 * 3 + 1) * 8]);
        Assert.Equal(new Shape(1, 4, 4, 2), Lax.ConvGeneralDilated(Np.Ones([1, 7, 8, 3]), Np.Ones([3, 3, 3, 2]), [2, 2], "SAME",
            dimensionNumbers: ("NHWC", "HWIO", "NHWC")).Shape);
        Assert.Equal(new Shape(1, 3, 3, 2), Lax.ConvGeneralDilated(Np.Ones([1, 7, 8, 3]), Np.Ones([3, 3, 3, 2]), [2, 2], "VALID",
            dimensionNumbers: ("NHWC", "HWIO", "NHWC")).Shape);
        // rhs dilation enlarges the effective window used by SAME.
        Assert.Equal(new Shape(1, 1, 6), Lax.ConvGeneralDilated(Np.Ones([1, 1, 6]), Np.Ones([1, 1, 3]), [1], "same", rhsDilation: [3]).Shape);

        Assert.Equal(new[] { (1, 1) }, Lax.PadtypeToPads([5], [3], [2], "SAME"));
        Assert.Equal(new[] { (0, 1) }, Lax.PadtypeToPads([4], [3], [2], "SAME"));
        Assert.Equal(new[] { (1, 0) }, Lax.PadtypeToPads([4], [3], [2], "SAME_LOWER"));
        Assert.Equal(new[] { (0, 0) }, Lax.PadtypeToPads([6], [1], [2], "SAME"));
        Assert.Equal(new[] { (0, 0), (0, 0) }, Lax.PadtypeToPads([6, 3], [2, 2], [1, 1], "VALID"));
    }

    [Fact]
    public void DTypesAndPreferredElementType()
    {
        var x64 = D([1, 2, 3, 4], 1, 1, 4);
        var w64 = D([0.5, 0.25], 1, 1, 2);
        var y64 = Lax.Conv(x64, w64, [1], "VALID");
        Assert.Equal(DType.Float64, y64.DType);
        Assert.Equal(new[] { 1.0, 1.75, 2.5 }, y64.ToArray<double>());

        var xi = Tensor.FromArray(new[] { 1, 2, 3, 4 }, new Shape(1, 1, 4));
        var wi = Tensor.FromArray(new[] { 3, -1 }, new Shape(1, 1, 2));
        var yi = Lax.Conv(xi, wi, [1], "VALID");
        Assert.Equal(DType.Int32, yi.DType);
        Assert.Equal(new[] { 1, 3, 5 }, yi.ToArray<int>());
        var yf = Lax.ConvGeneralDilated(xi, wi, [1], [(0, 0)], preferredElementType: DType.Float32);
        Assert.Equal(DType.Float32, yf.DType);
        Assert.Equal(new float[] { 1, 3, 5 }, yf.ToArray<float>());

        var xh = F([1, 2, 3, 4], 1, 1, 4).AsType(DType.Float16);
        var wh = F([1, 0, -1], 1, 1, 3).AsType(DType.Float16);
        var yh = Lax.Conv(xh, wh, [1], "VALID");
        Assert.Equal(DType.Float16, yh.DType);
        Assert.Equal(new[] { -2.0, -2.0 }, yh.ToDoubleArray());
        var yb = Lax.Conv(xh.AsType(DType.BFloat16), wh.AsType(DType.BFloat16), [1], "VALID");
        Assert.Equal(DType.BFloat16, yb.DType);
        Assert.Equal(new[] { -2.0, -2.0 }, yb.ToDoubleArray());
    }

    [Fact]
    public void ConvTransposeUpsamples()
    {
        // NHC input [1, 2, 3], HIO kernel [1, 10], stride 2: dilated and padded (1, 1) → [0, 1, 0, 2, 0, 3, 0].
        var x = F([1, 2, 3], 1, 3, 1);
        var k = F([1, 10], 2, 1, 1);
        var valid = Lax.ConvTranspose(x, k, [2], "VALID");
        Assert.Equal(new Shape(1, 6, 1), valid.Shape);
        Assert.Equal(new float[] { 10, 1, 20, 2, 30, 3 }, valid.ToArray<float>());
        Assert.Equal(new Shape(1, 8, 8, 5), Lax.ConvTranspose(Np.Ones([1, 4, 4, 2]), Np.Ones([3, 3, 2, 5]), [2, 2], "SAME").Shape);
        Assert.Equal(new Shape(1, 9, 9, 5), Lax.ConvTranspose(Np.Ones([1, 4, 4, 2]), Np.Ones([3, 3, 2, 5]), [2, 2], "VALID").Shape);
    }

    [Fact]
    public void ConvTransposeWithTransposedKernelIsTheAdjoint()
    {
        // <conv(x, k), y> == <x, conv_transpose(y, k, transpose_kernel)> for a strided VALID convolution.
        var rng = new System.Random(11);
        double[] R(int n) => Enumerable.Range(0, n).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var x = D(R(1 * 7 * 2), 1, 7, 2);    // NHC, C = 2
        var k = D(R(3 * 2 * 4), 3, 2, 4);    // HIO, I = 2, O = 4
        var y = D(R(1 * 3 * 4), 1, 3, 4);    // conv output shape
        var fwd = Lax.ConvGeneralDilated(x, k, [2], "VALID", dimensionNumbers: ("NHC", "HIO", "NHC"));
        Assert.Equal(y.Shape, fwd.Shape);
        var back = Lax.ConvTranspose(y, k, [2], "VALID", transposeKernel: true);
        Assert.Equal(x.Shape, back.Shape);
        double lhs = fwd.ToArray<double>().Zip(y.ToArray<double>(), (a, b) => a * b).Sum();
        double rhs = x.ToArray<double>().Zip(back.ToArray<double>(), (a, b) => a * b).Sum();
        Assert.Equal(lhs, rhs, 1e-12);
    }

    // ---------------- im2col kernel vs a direct loop ----------------

    private static int Dil(int d, int r) => d == 0 ? 0 : 1 + r * (d - 1);

    /// <summary>The definition of conv_general_dilated, one output element at a time.</summary>
    private static double[] NaiveConv(double[] lhs, int[] ls, double[] rhs, int[] rs, ConvDimensionNumbers dn, int[] strides,
        (int Lo, int Hi)[] pads, int[] ld, int[] rd, int fgc, int bgc, out int[] outShape)
    {
        int s = ls.Length - 2;
        int N = ls[dn.LhsSpec[0]], O = rs[dn.RhsSpec[0]], I = rs[dn.RhsSpec[1]];
        var inSp = Enumerable.Range(0, s).Select(d => ls[dn.LhsSpec[2 + d]]).ToArray();
        var kSp = Enumerable.Range(0, s).Select(d => rs[dn.RhsSpec[2 + d]]).ToArray();
        var outSp = Enumerable.Range(0, s).Select(d =>
            Math.Max(0, (int)Math.Floor((Dil(inSp[d], ld[d]) + pads[d].Lo + pads[d].Hi - Dil(kSp[d], rd[d])) / (double)strides[d]) + 1)).ToArray();
        int nOut = N / bgc;
        outShape = new int[s + 2];
        outShape[dn.OutSpec[0]] = nOut;
        outShape[dn.OutSpec[1]] = O;
        for (int d = 0; d < s; d++) outShape[dn.OutSpec[2 + d]] = outSp[d];
        var idx = new int[s + 2];
        int Flat(int[] shape, int[] spec, int a, int b, int[] sp)
        {
            idx[spec[0]] = a; idx[spec[1]] = b;
            for (int d = 0; d < sp.Length; d++) idx[spec[2 + d]] = sp[d];
            int f = 0;
            for (int i = 0; i < shape.Length; i++) f = f * shape[i] + idx[i];
            return f;
        }
        var result = new double[outShape.Aggregate(1, (a, b) => a * b)];
        int P = outSp.Aggregate(1, (a, b) => a * b), K = kSp.Aggregate(1, (a, b) => a * b);
        var y = new int[s];
        var kk = new int[s];
        var xi = new int[s];
        for (int n = 0; n < nOut; n++)
            for (int o = 0; o < O; o++)
                for (int p = 0; p < P; p++)
                {
                    int rem = p;
                    for (int d = s - 1; d >= 0; d--) { y[d] = rem % outSp[d]; rem /= outSp[d]; }
                    int fg = o / (O / fgc), bg = o / (O / bgc);
                    int batch = bg * nOut + n;
                    double acc = 0;
                    for (int i = 0; i < I; i++)
                        for (int k = 0; k < K; k++)
                        {
                            int r2 = k;
                            for (int d = s - 1; d >= 0; d--) { kk[d] = r2 % kSp[d]; r2 /= kSp[d]; }
                            bool ok = true;
                            for (int d = 0; d < s && ok; d++)
                            {
                                int q = y[d] * strides[d] + kk[d] * rd[d] - pads[d].Lo;
                                if (q < 0 || q >= Dil(inSp[d], ld[d]) || q % ld[d] != 0) ok = false;
                                else xi[d] = q / ld[d];
                            }
                            if (!ok) continue;
                            acc += lhs[Flat(ls, dn.LhsSpec, batch, fg * I + i, xi)] * rhs[Flat(rs, dn.RhsSpec, o, i, kk)];
                        }
                    result[Flat(outShape, dn.OutSpec, n, o, y)] = acc;
                }
        return result;
    }

    private static int[] RandomPerm(System.Random rng, int n) => Enumerable.Range(0, n).OrderBy(_ => rng.Next()).ToArray();

    private static void CrossCheck(int seed, int trials)
    {
        var rng = new System.Random(seed);
        for (int t = 0; t < trials; t++)
        {
            int s = rng.Next(1, 4);
            int kind = rng.Next(3);
            int g = kind == 0 ? 1 : rng.Next(1, 4);
            int fgc = kind == 1 ? g : 1, bgc = kind == 2 ? g : 1;
            int I = rng.Next(1, 4), C = fgc * I, O = g * rng.Next(1, 4), nOut = rng.Next(1, 3), N = bgc * nOut;
            int maxIn = s == 3 ? 5 : 7;
            var inSp = Enumerable.Range(0, s).Select(_ => rng.Next(1, maxIn)).ToArray();
            var kSp = Enumerable.Range(0, s).Select(_ => rng.Next(1, 4)).ToArray();
            var strides = Enumerable.Range(0, s).Select(_ => rng.Next(1, 4)).ToArray();
            var ld = Enumerable.Range(0, s).Select(_ => rng.Next(1, 3)).ToArray();
            var rd = Enumerable.Range(0, s).Select(_ => rng.Next(1, 3)).ToArray();
            var pads = Enumerable.Range(0, s).Select(d =>
            {
                int lo = rng.Next(-1, 3), hi = rng.Next(-1, 3);
                return Dil(inSp[d], ld[d]) + lo + hi < 0 ? (0, 0) : (lo, hi);
            }).ToArray();
            var dn = rng.Next(3) == 0 ? ConvDimensionNumbers.Default(s + 2)
                : new ConvDimensionNumbers(RandomPerm(rng, s + 2), RandomPerm(rng, s + 2), RandomPerm(rng, s + 2));
            var ls = new int[s + 2];
            ls[dn.LhsSpec[0]] = N; ls[dn.LhsSpec[1]] = C;
            for (int d = 0; d < s; d++) ls[dn.LhsSpec[2 + d]] = inSp[d];
            var rs = new int[s + 2];
            rs[dn.RhsSpec[0]] = O; rs[dn.RhsSpec[1]] = I;
            for (int d = 0; d < s; d++) rs[dn.RhsSpec[2 + d]] = kSp[d];
            var lv = Enumerable.Range(0, ls.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var rv = Enumerable.Range(0, rs.Aggregate(1, (a, b) => a * b)).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
            var expect = NaiveConv(lv, ls, rv, rs, dn, strides, pads, ld, rd, fgc, bgc, out var outShape);
            string what = $"trial {t}: lhs ({string.Join(",", ls)}) rhs ({string.Join(",", rs)}) dn {dn} strides ({string.Join(",", strides)}) " +
                $"pads ({string.Join(",", pads)}) ld ({string.Join(",", ld)}) rd ({string.Join(",", rd)}) fgc {fgc} bgc {bgc}";

            var got = Lax.ConvGeneralDilated(D(lv, ls), D(rv, rs), strides, pads, ld, rd, dn, fgc, bgc);
            Assert.True(new Shape(outShape) == got.Shape, $"{what}: shape {got.Shape} vs {new Shape(outShape)}");
            var gv = got.ToArray<double>();
            for (int i = 0; i < expect.Length; i++)
                Assert.True(Math.Abs(gv[i] - expect[i]) <= 1e-12 * (1 + Math.Abs(expect[i])), $"{what}: float64 element {i}: {gv[i]} vs {expect[i]}");

            var got32 = Lax.ConvGeneralDilated(D(lv, ls).AsType(DType.Float32), D(rv, rs).AsType(DType.Float32), strides, pads, ld, rd, dn, fgc, bgc);
            Assert.Equal(DType.Float32, got32.DType);
            var fv = got32.ToArray<float>();
            for (int i = 0; i < expect.Length; i++)
                Assert.True(Math.Abs(fv[i] - expect[i]) <= 1e-4 * (1 + Math.Abs(expect[i])), $"{what}: float32 element {i}: {fv[i]} vs {expect[i]}");
        }
    }

    [Fact]
    public void Im2ColMatchesDirectConvolutionOnRandomConfigurations() => CrossCheck(seed: 1234, trials: 150);

    [Fact]
    public void Im2ColMatchesDirectConvolutionWithManagedGemm()
    {
        bool old = Gemm.ForceManaged;
        Gemm.ForceManaged = true;
        try { CrossCheck(seed: 99, trials: 60); }
        finally { Gemm.ForceManaged = old; }
    }

    [Fact]
    public void Im2ColMatchesDirectConvolutionWithTinyColumnTiles()
    {
        // A column budget of 13 elements splits images across tiles and tiles across images.
        int old = ConvKernel.ColumnBudget;
        ConvKernel.ColumnBudget = 13;
        try { CrossCheck(seed: 7, trials: 60); }
        finally { ConvKernel.ColumnBudget = old; }
    }

    // ---------------- reduce_window ----------------

    [Fact]
    public void ReduceWindow1DExactValues()
    {
        var x = F([1, 3, 2, 5, 4], 5);
        Assert.Equal(new float[] { 3, 3, 5, 5 }, Lax.ReduceWindow(x, "max", [2], [1], [(0, 0)]).ToArray<float>());
        Assert.Equal(new float[] { 4, 5, 7, 9 }, Lax.ReduceWindow(x, "sum", [2], [1], [(0, 0)]).ToArray<float>());
        Assert.Equal(new float[] { 1, 2, 2, 4 }, Lax.ReduceWindow(x, "min", [2], [1], [(0, 0)]).ToArray<float>());
        // padded [0, 1, 3, 2, 5, 4, 0], windows of 3 every 2
        Assert.Equal(new float[] { 4, 10, 9 }, Lax.ReduceWindowSum(x, [3], [2], [(1, 1)]).ToArray<float>());
        Assert.Equal(new float[] { 3, 5, 5 }, Lax.ReduceWindowMax(x, [3], [2], [(1, 1)]).ToArray<float>());
        Assert.Equal(new float[] { 1, 2, 4 }, Lax.ReduceWindowMin(x, [3], [2], [(1, 1)]).ToArray<float>());
        // a window that only sees padding yields the identity
        Assert.Equal(new[] { float.NegativeInfinity, float.NegativeInfinity, 1, 2 }, Lax.ReduceWindowMax(F([1, 2], 2), [1], [1], [(2, 0)]).ToArray<float>());
        Assert.Equal(new[] { 1, 2, float.PositiveInfinity }, Lax.ReduceWindowMin(F([1, 2], 2), [1], [1], [(0, 1)]).ToArray<float>());
        Assert.Equal(new float[] { 0, 1, 2 }, Lax.ReduceWindowSum(F([1, 2], 2), [1], [1], [(1, 0)]).ToArray<float>());
        // negative padding crops
        Assert.Equal(new float[] { 5, 7 }, Lax.ReduceWindowSum(x, [2], [1], [(-1, -1)]).ToArray<float>());
    }

    [Fact]
    public void ReduceWindowDilations()
    {
        // base dilation 2: [1, _, 2, _, 3] with holes holding the identity
        var x = F([1, 2, 3], 3);
        Assert.Equal(new float[] { 1, 2, 2, 3 }, Lax.ReduceWindowSum(x, [2], [1], [(0, 0)], baseDilation: [2]).ToArray<float>());
        Assert.Equal(new float[] { 1, 2, 2, 3 }, Lax.ReduceWindowMax(x, [2], [1], [(0, 0)], baseDilation: [2]).ToArray<float>());
        Assert.Equal(new float[] { 3, 5 }, Lax.ReduceWindowSum(x, [3], [2], [(0, 0)], baseDilation: [2]).ToArray<float>());
        // window dilation 2: x[i] + x[i + 2]
        Assert.Equal(new float[] { 4, 6, 8 }, Lax.ReduceWindowSum(F([1, 2, 3, 4, 5], 5), [2], [1], [(0, 0)], windowDilation: [2]).ToArray<float>());
    }

    [Fact]
    public void ReduceWindow2D()
    {
        var x = F(Range(16), 4, 4);
        var mx = Lax.ReduceWindow(x, "max", [2, 2], [2, 2], "VALID");
        Assert.Equal(new Shape(2, 2), mx.Shape);
        Assert.Equal(new float[] { 5, 7, 13, 15 }, mx.ToArray<float>());
        Assert.Equal(new float[] { 10, 18, 42, 50 }, Lax.ReduceWindow(x, "sum", [2, 2], [2, 2], "VALID").ToArray<float>());
        Assert.Equal(new float[] { 0, 2, 8, 10 }, Lax.ReduceWindow(x, "min", [2, 2], [2, 2], "VALID").ToArray<float>());
        // SAME, 3×3 window over ones: corners 4, edges 6, interior 9
        var s = Lax.ReduceWindow(Np.Ones([4, 4]), "sum", [3, 3], [1, 1], "SAME");
        Assert.Equal(new float[] { 4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4 }, s.ToArray<float>());
        // pooling over only one axis of a 3-d array
        var y = Lax.ReduceWindow(F(Range(12), 2, 3, 2), "max", [1, 3, 1], [1, 1, 1], [(0, 0), (0, 0), (0, 0)]);
        Assert.Equal(new Shape(2, 1, 2), y.Shape);
        Assert.Equal(new float[] { 4, 5, 10, 11 }, y.ToArray<float>());
    }

    [Fact]
    public void ReduceWindowEveryNumericDType()
    {
        var xi = Tensor.FromArray(new[] { 1, -3, 2 }, new Shape(3));
        var mi = Lax.ReduceWindowMax(xi, [1], [1], [(1, 0)]);
        Assert.Equal(DType.Int32, mi.DType);
        Assert.Equal(new[] { int.MinValue, 1, -3, 2 }, mi.ToArray<int>());
        Assert.Equal(new[] { -2, -1 }, Lax.ReduceWindowSum(xi, [2], [1], [(0, 0)]).ToArray<int>());
        // padded [1, -3, 2, +inf, +inf]
        Assert.Equal(new[] { -3, -3, 2, int.MaxValue }, Lax.ReduceWindowMin(xi, [2], [1], [(0, 2)]).ToArray<int>());

        var xl = Tensor.FromArray(new[] { 5L, 7L, 1L }, new Shape(3));
        Assert.Equal(new[] { 12L, 8L }, Lax.ReduceWindowSum(xl, [2], [1], [(0, 0)]).ToArray<long>());
        var xu = Tensor.FromArray(new[] { 5u, 7u, 1u }, new Shape(3));
        Assert.Equal(new[] { 5u, 7u, 7u }, Lax.ReduceWindowMax(xu, [2], [1], [(1, 0)]).ToArray<uint>());
        var xd = D([0.5, 0.25, 4], 3);
        Assert.Equal(new[] { 0.75, 4.25 }, Lax.ReduceWindowSum(xd, [2], [1], [(0, 0)]).ToArray<double>());
        var xh = F([1, 2, 3], 3).AsType(DType.Float16);
        var sh = Lax.ReduceWindowSum(xh, [2], [1], [(0, 0)]);
        Assert.Equal(DType.Float16, sh.DType);
        Assert.Equal(new[] { 3.0, 5.0 }, sh.ToDoubleArray());
        var sb = Lax.ReduceWindowMax(xh.AsType(DType.BFloat16), [2], [1], [(0, 1)]);
        Assert.Equal(DType.BFloat16, sb.DType);
        Assert.Equal(new[] { 2.0, 3.0, 3.0 }, sb.ToDoubleArray());
        var xb = Tensor.FromArray(new[] { false, true, false }, new Shape(3));
        Assert.Equal(new[] { true, true }, Lax.ReduceWindowMax(xb, [2], [1], [(0, 0)]).ToArray<bool>());
        Assert.Equal(new[] { false, false, false }, Lax.ReduceWindowMin(xb, [2], [1], [(0, 1)]).ToArray<bool>());
        Assert.Equal(new[] { false, false, true, false }, Lax.ReduceWindowMax(xb, [1], [1], [(1, 0)]).ToArray<bool>());
    }

    [Fact]
    public void ReduceWindowMaxPropagatesNaN()
    {
        var y = Lax.ReduceWindowMax(F([1, float.NaN, 3, 4], 4), [2], [1], [(0, 0)]).ToArray<float>();
        Assert.True(float.IsNaN(y[0]) && float.IsNaN(y[1]));
        Assert.Equal(4f, y[2]);
    }

    // ---------------- pooling ----------------

    [Fact]
    public void PoolingValuesMatchFlax()
    {
        var x = F(Range(16), 1, 4, 4, 1);
        var m = Pooling.MaxPool(x, [2, 2], [2, 2]);
        Assert.Equal(new Shape(1, 2, 2, 1), m.Shape);
        Assert.Equal(new float[] { 5, 7, 13, 15 }, m.ToArray<float>());
        var a = Pooling.AvgPool(x, [2, 2], [2, 2]);
        Assert.Equal(new float[] { 2.5f, 4.5f, 10.5f, 12.5f }, a.ToArray<float>());
        Assert.Equal(new float[] { 0, 2, 8, 10 }, Pooling.MinPool(x, [2, 2], [2, 2]).ToArray<float>());
        // strides default to 1
        Assert.Equal(new Shape(1, 3, 3, 1), Pooling.MaxPool(x, [2, 2]).Shape);
    }

    [Fact]
    public void AvgPoolSamePaddingCountIncludePad()
    {
        var x = Np.Ones([1, 3, 3, 1]);
        // SAME with a 2×2 window pads (0, 1): the last row and column see padding.
        var incl = Pooling.AvgPool(x, [2, 2], [1, 1], "SAME");
        Assert.Equal(new Shape(1, 3, 3, 1), incl.Shape);
        Assert.Equal(new float[] { 1, 1, 0.5f, 1, 1, 0.5f, 0.5f, 0.5f, 0.25f }, incl.ToArray<float>());
        var excl = Pooling.AvgPool(x, [2, 2], [1, 1], "SAME", countIncludePad: false);
        Assert.Equal(Enumerable.Repeat(1f, 9).ToArray(), excl.ToArray<float>());
        var explicitPads = Pooling.AvgPool(x, [2, 2], [1, 1], [(1, 0), (1, 0)], countIncludePad: false);
        Assert.Equal(Enumerable.Repeat(1f, 9).ToArray(), explicitPads.ToArray<float>());
        // max pool pads with -inf, so padding never wins
        Assert.Equal(Enumerable.Repeat(1f, 9).ToArray(), Pooling.MaxPool(x, [2, 2], [1, 1], "SAME").ToArray<float>());
    }

    [Fact]
    public void PoolingShapes()
    {
        var x = Np.Zeros([2, 7, 9, 3]);
        Assert.Equal(new Shape(2, 3, 4, 3), Pooling.MaxPool(x, [3, 3], [2, 2]).Shape);
        Assert.Equal(new Shape(2, 4, 5, 3), Pooling.MaxPool(x, [3, 3], [2, 2], "SAME").Shape);
        Assert.Equal(new Shape(2, 7, 9, 3), Pooling.AvgPool(x, [3, 3], [1, 1], "SAME").Shape);
        // no batch dimension
        Assert.Equal(new Shape(3, 4, 3), Pooling.MaxPool(Np.Zeros([7, 9, 3]), [3, 3], [2, 2]).Shape);
        // two batch dimensions, 1-d window
        Assert.Equal(new Shape(2, 5, 4, 6), Pooling.AvgPool(Np.Zeros([2, 5, 8, 6]), [2], [2]).Shape);
        // integer input averages to float32
        var ai = Pooling.AvgPool(Tensor.FromArray(new[] { 1, 2, 3, 4 }, new Shape(1, 4, 1)), [2], [2]);
        Assert.Equal(DType.Float32, ai.DType);
        Assert.Equal(new float[] { 1.5f, 3.5f }, ai.ToArray<float>());
    }

    // ---------------- errors ----------------

    [Fact]
    public void ConvShapeErrorsNameTheProblem()
    {
        var e1 = Assert.Throws<ShapeError>(() => Lax.Conv(Np.Ones([1, 3, 8]), Np.Ones([4, 3, 3, 3]), [1], "VALID"));
        Assert.Contains("lhs and rhs must have the same number of dimensions, but got (1, 3, 8) and (4, 3, 3, 3)", e1.Message);

        var e2 = Assert.Throws<ShapeError>(() => Lax.Conv(Np.Ones([1, 3, 8, 8]), Np.Ones([4, 2, 3, 3]), [1, 1], "VALID"));
        Assert.Contains("lhs feature dimension size divided by feature_group_count must equal the rhs input feature dimension size, but 3 // 1 != 2", e2.Message);

        var e3 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 4, 8]), Np.Ones([4, 1, 3]), [1], "VALID", featureGroupCount: 3));
        Assert.Contains("feature_group_count must divide lhs feature dimension size, but 3 does not divide 4", e3.Message);

        var e4 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 4, 8]), Np.Ones([3, 2, 3]), [1], "VALID", featureGroupCount: 2));
        Assert.Contains("rhs output feature dimension size must be a multiple of feature_group_count, but 3 is not a multiple of 2", e4.Message);

        var e5 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([3, 1, 8]), Np.Ones([2, 1, 3]), [1], "VALID", batchGroupCount: 2));
        Assert.Contains("batch_group_count must divide lhs batch dimension size, but 2 does not divide 3", e5.Message);

        var e6 = Assert.Throws<InvalidArgumentError>(() => Lax.ConvGeneralDilated(Np.Ones([2, 2, 8]), Np.Ones([2, 1, 3]), [1], "VALID", featureGroupCount: 2, batchGroupCount: 2));
        Assert.Contains("At most one of batch_group_count and feature_group_count may be > 1", e6.Message);

        var e7 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 1, 8, 8]), Np.Ones([1, 1, 3, 3]), [1, 1], [(1, 1)]));
        Assert.Contains("Wrong number of explicit pads for convolution: expected 2, got 1", e7.Message);

        var e8 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 1]), [1], [(-3, -2)]));
        Assert.Contains("Negative padding is larger than the size of the corresponding dimension", e8.Message);

        var e9 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 1, 8, 8]), Np.Ones([1, 1, 3, 3]), [1], [(0, 0), (0, 0)]));
        Assert.Contains("window and window_strides must have the same number of dimensions, but got 2 and 1", e9.Message);

        var e10 = Assert.Throws<DTypeError>(() => Lax.Conv(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 2], DType.Float64), [1], "VALID"));
        Assert.Contains("requires arguments to have the same dtypes, got float32", e10.Message);

        var e11 = Assert.Throws<InvalidArgumentError>(() => Lax.Conv(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 2]), [1], "FULL"));
        Assert.Contains("Unrecognized padding type: expected 'VALID' or 'SAME', got FULL", e11.Message);

        var e12 = Assert.Throws<InvalidArgumentError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 8, 8, 1]), Np.Ones([3, 3, 1, 1]), [1, 1], "SAME", dimensionNumbers: ("NHWC", "HWIX", "NHWC")));
        Assert.Contains("dimension_numbers[1] must contain the characters 'O' and 'I' exactly once, got 'HWIX'", e12.Message);

        var e13 = Assert.Throws<InvalidArgumentError>(() => (ConvDimensionNumbers)("NHWC", "HDIO", "NHWC"));
        Assert.Contains("must each have the same set of spatial characters", e13.Message);

        var e14 = Assert.Throws<InvalidArgumentError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 2]), [1], "SAME", lhsDilation: [2]));
        Assert.Contains("String padding is not implemented for transposed convolution", e14.Message);

        var e15 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 2]), [1], [(0, 0)], dimensionNumbers: new ConvDimensionNumbers([0, 1, 1], [0, 1, 2], [0, 1, 2])));
        Assert.Contains("lhs_spec (0, 1, 1) must be a permutation of the 3 dimensions", e15.Message);

        var e16 = Assert.Throws<ShapeError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 4, 4]), Np.Ones([1, 4, 2]), [1], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC")));
        Assert.Contains("lhs_spec (0, 3, 1, 2) must be a permutation of the 3 dimensions of lhs (1, 4, 4)", e16.Message);

        var e17 = Assert.Throws<InvalidArgumentError>(() => Lax.Conv(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 2]), [0], "VALID"));
        Assert.Contains("window strides must have every element be positive, got (0,)", e17.Message);
        var e18 = Assert.Throws<InvalidArgumentError>(() => Lax.ConvGeneralDilated(Np.Ones([1, 1, 4]), Np.Ones([1, 1, 2]), [1], [(0, 0)], rhsDilation: [0]));
        Assert.Contains("rhs_dilation must have every element be positive, got (0,)", e18.Message);
    }

    [Fact]
    public void ReduceWindowAndPoolingErrors()
    {
        var e1 = Assert.Throws<ShapeError>(() => Lax.ReduceWindowMax(Np.Ones([4, 4]), [2], [1], [(0, 0)]));
        Assert.Contains("reduce_window_max got the wrong number of window_dimensions for operand: got operand shape (4, 4) with window_dimensions (2,)", e1.Message);
        var e2 = Assert.Throws<ShapeError>(() => Lax.ReduceWindowSum(Np.Ones([4]), [2], [1, 1], [(0, 0)]));
        Assert.Contains("inconsistent window_strides and window_dimensions", e2.Message);
        var e3 = Assert.Throws<InvalidArgumentError>(() => Lax.ReduceWindowSum(Np.Ones([4]), [0], [1], [(0, 0)]));
        Assert.Contains("window_dimensions must have every element be positive, got (0,)", e3.Message);
        var e4 = Assert.Throws<DTypeError>(() => Lax.ReduceWindowSum(Np.Full([4], true), [2], [1], [(0, 0)]));
        Assert.Contains("operand to reduce_window_sum must have a number dtype, got bool", e4.Message);
        var e5 = Assert.Throws<InvalidArgumentError>(() => Lax.ReduceWindow(Np.Ones([4]), "prod", [2], [1], [(0, 0)]));
        Assert.Contains("unknown computation \"prod\"", e5.Message);
        var e6 = Assert.Throws<ShapeError>(() => Pooling.MaxPool(Np.Ones([4, 4]), [2, 2]));
        Assert.Contains("MaxPool: input of shape (4, 4) has rank 2, but a 2-d window needs", e6.Message);
        var e7 = Assert.Throws<ShapeError>(() => Pooling.AvgPool(Np.Ones([1, 4, 4, 1]), [2, 2], [1]));
        Assert.Contains("window shape (2, 2) and strides (1,) must have the same length", e7.Message);
    }

    // ---------------- tracing ----------------

    [Fact]
    public void MakeJaxprShowsConvGeneralDilated()
    {
        var j = Jax.MakeJaxpr((Tensor x, Tensor w) => Lax.Conv(x, w, [1, 1], "SAME"))(Np.Ones([2, 3, 8, 8]), Np.Ones([4, 3, 3, 3]));
        Assert.Equal(
            "{ lambda ; a:f32[2,3,8,8] b:f32[4,3,3,3]. let\n    c:f32[2,4,8,8] = conv_general_dilated[batch_group_count=1 " +
            "dimension_numbers=((0, 1, 2, 3), (0, 1, 2, 3), (0, 1, 2, 3)) feature_group_count=1 lhs_dilation=(1, 1) " +
            "padding=((1, 1), (1, 1)) precision=None preferred_element_type=None rhs_dilation=(1, 1) window_strides=(1, 1)] a b\n  in (c,) }",
            j.ToString());
    }

    [Fact]
    public void MakeJaxprShowsReduceWindowAndPooling()
    {
        var j = Jax.MakeJaxpr((Tensor x) => Pooling.MaxPool(x, [2, 2], [2, 2]))(Np.Ones([1, 4, 4, 3]));
        Assert.Equal(
            "{ lambda ; a:f32[1,4,4,3]. let\n    b:f32[1,2,2,3] = reduce_window_max[base_dilation=(1, 1, 1, 1) padding=((0, 0), (0, 0), (0, 0), (0, 0)) " +
            "window_dilation=(1, 1, 1, 1) window_dimensions=(1, 2, 2, 1) window_strides=(1, 2, 2, 1)] a\n  in (b,) }",
            j.ToString());
        var nhwc = Jax.MakeJaxpr((Tensor x, Tensor w) => Lax.ConvGeneralDilated(x, w, [2, 2], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC")))(
            Np.Ones([1, 5, 5, 3]), Np.Ones([3, 3, 3, 8]));
        Assert.Contains("c:f32[1,3,3,8] = conv_general_dilated[", nhwc.ToString());
        Assert.Contains("dimension_numbers=((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))", nhwc.ToString());
    }
}
