using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Differentiation and batching rules of conv_general_dilated and the windowed reductions: gradients against
/// finite differences (order 2, forward and reverse), exact gradients of small cases, Vmap against per-example loops
/// (lhs, rhs and both batched, with feature and batch groups), and a tiny CNN.</summary>
public class ConvolutionRulesTests
{
    // ---------------- data ----------------

    /// <summary>Standard-normal float64 values from a seeded generator.</summary>
    private static Tensor Rand(int seed, params int[] shape)
    {
        var rng = new System.Random(seed);
        var v = new double[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < v.Length; i++)
            v[i] = Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());
        return Tensor.FromArray(v, new Shape(shape));
    }

    /// <summary>Distinct float64 values (a shuffled ramp, 0.37 apart) so that every window has a unique max and min.</summary>
    private static Tensor Distinct(int seed, params int[] shape)
    {
        var rng = new System.Random(seed);
        int n = shape.Aggregate(1, (a, b) => a * b);
        var v = Enumerable.Range(0, n).Select(i => 0.37 * i - 0.185 * n).ToArray();
        rng.Shuffle(v);
        return Tensor.FromArray(v, new Shape(shape));
    }

    /// <summary>Small integers in [-3, 3] as float64, so that sums are exact in any order.</summary>
    private static Tensor Ints(int seed, params int[] shape)
    {
        var rng = new System.Random(seed);
        var v = new double[shape.Aggregate(1, (a, b) => a * b)];
        for (int i = 0; i < v.Length; i++) v[i] = rng.Next(-3, 4);
        return Tensor.FromArray(v, new Shape(shape));
    }

    private static Tensor D(double[] v, params int[] shape) => Tensor.FromArray(v, new Shape(shape));

    /// <summary>x[..., i, ...] along <paramref name="axis"/>.</summary>
    private static Tensor Take(Tensor x, int axis, int i) => Lax.Squeeze(Lax.SliceInDim(x, i, i + 1, 1, axis), [axis]);

    private static int CountConvs(ClosedJaxpr j) => j.Jaxpr.Eqns.Count(e => e.Primitive == Convolution.ConvGeneralDilated);

    // ---------------- conv_general_dilated: gradients against finite differences ----------------

    private static readonly Dictionary<string, (int[] Lhs, int[] Rhs, Func<Tensor, Tensor, Tensor> F)> ConvCases = new()
    {
        ["1d_strided_padded"] = ([2, 3, 7], [4, 3, 3], (l, r) => Lax.ConvGeneralDilated(l, r, [2], [(1, 2)])),
        ["1d_stride_larger_than_kernel"] = ([1, 2, 8], [2, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [3], [(0, 0)])),
        ["2d_valid"] = ([1, 2, 5, 5], [3, 2, 2, 3], (l, r) => Lax.Conv(l, r, [1, 1], "VALID")),
        ["2d_same_strided"] = ([2, 3, 6, 5], [4, 3, 3, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 1], "SAME")),
        ["2d_same_lower_strided"] = ([1, 2, 5, 6], [2, 2, 2, 3], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 2], "SAME_LOWER")),
        ["2d_lhs_dilation"] = ([1, 2, 4, 3], [2, 2, 3, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1], [(2, 1), (1, 1)], lhsDilation: [2, 3])),
        ["2d_rhs_dilation"] = ([1, 2, 7, 6], [2, 2, 2, 3], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 1], [(1, 1), (0, 2)], rhsDilation: [2, 2])),
        ["2d_strides_and_both_dilations"] = ([2, 2, 5, 4], [3, 2, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 3], [(1, 2), (2, 0)], lhsDilation: [2, 1], rhsDilation: [1, 2])),
        ["2d_negative_padding"] = ([1, 2, 6, 6], [2, 2, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 2], [(-1, 1), (0, -2)])),
        ["feature_groups"] = ([2, 4, 5, 5], [6, 2, 3, 3], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1], "SAME", featureGroupCount: 2)),
        ["depthwise_strided_dilated"] = ([1, 3, 6, 5], [6, 1, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 2], [(0, 1), (1, 0)], rhsDilation: [1, 2], featureGroupCount: 3)),
        ["feature_groups_lhs_dilation"] = ([1, 4, 3, 3], [4, 2, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 2], [(1, 1), (0, 1)], lhsDilation: [2, 2], featureGroupCount: 2)),
        ["batch_groups"] = ([4, 3, 5, 4], [4, 3, 3, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1], "VALID", batchGroupCount: 2)),
        ["batch_groups_strided_dilated"] = ([6, 2, 6, 5], [6, 2, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 1], [(1, 0), (0, 1)], rhsDilation: [1, 2], batchGroupCount: 3)),
        ["nhwc_same_strided"] = ([2, 5, 6, 3], [3, 3, 3, 4], (l, r) => Lax.ConvGeneralDilated(l, r, [2, 2], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC"))),
        ["nhwc_feature_groups_lhs_dilation"] = ([1, 4, 4, 4], [2, 2, 2, 6], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1], [(0, 1), (1, 0)], lhsDilation: [1, 2], dimensionNumbers: ("NHWC", "HWIO", "NHWC"), featureGroupCount: 2)),
        ["nhwc_batch_groups"] = ([4, 4, 3, 2], [2, 2, 2, 4], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 2], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC"), batchGroupCount: 2)),
        ["mixed_layouts_1d"] = ([2, 6, 3], [3, 3, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [1], [(1, 0)], dimensionNumbers: ("NWC", "WIO", "NCW"))),
        ["3d"] = ([1, 2, 4, 4, 3], [2, 2, 2, 2, 2], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 2, 1], [(1, 0), (0, 1), (1, 1)])),
        ["3d_ndhwc_dilated"] = ([1, 4, 3, 5, 2], [2, 1, 2, 2, 3], (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1, 2], "SAME", rhsDilation: [2, 1, 1], dimensionNumbers: ("NDHWC", "DHWIO", "NDHWC"))),
        ["no_spatial_dims"] = ([3, 4], [5, 4], (l, r) => Lax.ConvGeneralDilated(l, r, [], Array.Empty<(int, int)>())),
    };

    public static TheoryData<string> ConvCaseNames => new(ConvCases.Keys);

    [Theory]
    [MemberData(nameof(ConvCaseNames))]
    public void ConvGradsMatchFiniteDifferences(string name)
    {
        var (ls, rs, f) = ConvCases[name];
        CheckGrads(((Tensor L, Tensor R) a) => f(a.L, a.R), (Rand(1, ls), Rand(2, rs)), order: 2);
    }

    [Fact]
    public void ConvGradientOfSumIsExact()
    {
        // y[j] = Σ_k x[j + k]·w[k] (VALID): ∂Σy/∂x[i] = Σ_{k: 0 ≤ i-k < 2} w[k], ∂Σy/∂w[k] = x[k] + x[k + 1].
        var x = D([1, 2, 3, 4], 1, 1, 4);
        var w = D([1, 0, -1], 1, 1, 3);
        var gx = Grad((Tensor a) => Lax.Conv(a, w, [1], "VALID").Sum())(x);
        var gw = Grad((Tensor b) => Lax.Conv(x, b, [1], "VALID").Sum())(w);
        Assert.Equal(new Shape(1, 1, 4), gx.Shape);
        Assert.Equal(new double[] { 1, 1, -1, -1 }, gx.ToArray<double>());
        Assert.Equal(new double[] { 3, 5, 7 }, gw.ToArray<double>());
    }

    [Fact]
    public void StridedPaddedConvGradientIsExact()
    {
        // padded x = [0, 1, 2, 3, 4, 5]; windows start at 0, 2, 4: y = [2, 8, 14].
        var x = D([1, 2, 3, 4, 5], 1, 1, 5);
        var w = D([1, 2], 1, 1, 2);
        Func<Tensor, Tensor, Tensor> conv = (a, b) => Lax.ConvGeneralDilated(a, b, [2], [(1, 0)]);
        Assert.Equal(new double[] { 2, 8, 14 }, conv(x, w).ToArray<double>());
        var (_, pullback) = Vjp<(Tensor, Tensor), Tensor>(p => conv(p.Item1, p.Item2), (x, w));
        var (gx, gw) = pullback(D([1, 10, 100], 1, 1, 3));
        // x[0] is tap 1 of window 0; x[1], x[2] taps 0, 1 of window 1; x[3], x[4] taps 0, 1 of window 2.
        Assert.Equal(new double[] { 2, 10, 20, 100, 200 }, gx.ToArray<double>());
        // w[0] sees padded[0, 2, 4] = [0, 2, 4]; w[1] sees padded[1, 3, 5] = [1, 3, 5].
        Assert.Equal(new double[] { 0 + 20 + 400, 1 + 30 + 500 }, gw.ToArray<double>());
    }

    [Fact]
    public void ConvJvpIsBilinear()
    {
        var x = Rand(3, 2, 3, 5, 5);
        var w = Rand(4, 4, 3, 3, 3);
        var tx = Rand(5, 2, 3, 5, 5);
        var tw = Rand(6, 4, 3, 3, 3);
        Func<Tensor, Tensor, Tensor> conv = (a, b) => Lax.ConvGeneralDilated(a, b, [2, 1], "SAME");
        var (y, t) = Jvp<(Tensor, Tensor), Tensor>(p => conv(p.Item1, p.Item2), (x, w), (tx, tw));
        var expected = Np.Add(conv(tx, w), conv(x, tw)).ToArray<double>();
        Assert.Equal(conv(x, w).ToArray<double>(), y.ToArray<double>());
        var got = t.ToArray<double>();
        for (int i = 0; i < got.Length; i++) Assert.Equal(expected[i], got[i], 12);
    }

    [Fact]
    public void ReverseModeTransposeIsAConvolution()
    {
        // The lhs cotangent of a strided conv is a conv with lhs dilation (JAX's _conv_general_dilated_transpose_lhs).
        var w = Np.Ones([2, 3, 3, 3], DType.Float64);
        var j = Jax.MakeJaxpr((Tensor x) => Grad((Tensor a) => Lax.Conv(a, w, [2, 2], "SAME").Sum())(x))(Np.Ones([1, 3, 7, 7], DType.Float64));
        var text = j.ToString();
        Assert.Equal(2, CountConvs(j));
        Assert.Contains("lhs_dilation=(2, 2)", text);
        Assert.Contains("rev", text);
    }

    // ---------------- windowed reductions ----------------

    [Fact]
    public void ReduceWindowSumGradsMatchFiniteDifferences()
    {
        CheckGrads((Tensor x) => Lax.ReduceWindowSum(x, [2, 3], [1, 2], [(1, 0), (0, 2)]), Rand(7, 3, 7), order: 2);
        CheckGrads((Tensor x) => Lax.ReduceWindowSum(x, [2, 2], [2, 1], [(0, 1), (1, -1)], baseDilation: [2, 1], windowDilation: [1, 2]), Rand(8, 3, 6), order: 2);
        CheckGrads((Tensor x) => Lax.ReduceWindow(x, "sum", [1, 3, 3, 1], [1, 2, 2, 1], "SAME"), Rand(9, 2, 5, 5, 2), order: 2);
    }

    [Fact]
    public void ReduceWindowMaxAndMinGradsMatchFiniteDifferences()
    {
        CheckGrads((Tensor x) => Lax.ReduceWindowMax(x, [2, 2], [2, 1], [(0, 1), (1, 1)]), Distinct(10, 4, 6), order: 2);
        CheckGrads((Tensor x) => Lax.ReduceWindowMin(x, [2, 2], [2, 1], [(0, 1), (1, 1)]), Distinct(11, 4, 6), order: 2);
        // Base dilation holes and window dilation; every window still holds at least one operand element.
        CheckGrads((Tensor x) => Lax.ReduceWindowMax(x, [2, 2], [1, 1], [(0, 0), (1, 0)], baseDilation: [2, 1]), Distinct(12, 3, 5), order: 2);
        CheckGrads((Tensor x) => Lax.ReduceWindowMin(x, [3, 2], [2, 1], [(1, 0), (0, 0)], windowDilation: [1, 2]), Distinct(13, 6, 5), order: 2);
        CheckGrads((Tensor x) => Lax.ReduceWindowMax(x, [3], [2], [(-1, 1)]), Distinct(14, 9), order: 2);
    }

    [Fact]
    public void PoolingGradsMatchFiniteDifferences()
    {
        CheckGrads((Tensor x) => Pooling.MaxPool(x, [2, 2], [2, 2], "SAME"), Distinct(15, 2, 5, 5, 3), order: 2);
        CheckGrads((Tensor x) => Pooling.MaxPool(x, [3, 3], [1, 2]), Distinct(16, 1, 5, 6, 2), order: 2);
        CheckGrads((Tensor x) => Pooling.MinPool(x, [2, 3], [2, 2], [(1, 0), (1, 1)]), Distinct(17, 2, 4, 5, 1), order: 2);
        CheckGrads((Tensor x) => Pooling.AvgPool(x, [3, 3], [2, 2], "SAME"), Rand(18, 2, 5, 5, 2), order: 2);
        CheckGrads((Tensor x) => Pooling.AvgPool(x, [2, 2], [1, 1], "SAME", countIncludePad: false), Rand(19, 1, 4, 3, 2), order: 2);
        CheckGrads((Tensor x) => Pooling.MaxPool(x, [2], [1]), Distinct(20, 6, 3), order: 2); // no batch dim: (W, C)
    }

    [Fact]
    public void ReduceWindowSumTransposeIsExact()
    {
        // Windows [0..2] and [2..4] of 6 elements: x[2] is in both, x[5] in none.
        var x = D([1, 2, 3, 4, 5, 6], 6);
        var (y, pullback) = Vjp((Tensor a) => Lax.ReduceWindowSum(a, [3], [2], [(0, 0)]), x);
        Assert.Equal(new double[] { 6, 12 }, y.ToArray<double>());
        Assert.Equal(new double[] { 1, 1, 11, 10, 10, 0 }, pullback(D([1, 10], 2)).ToArray<double>());
        // Base dilation 2: [1, _, 2, _, 3] with windows of 2 → [1, 2, 2, 3]; each element feeds two windows.
        var (z, pb2) = Vjp((Tensor a) => Lax.ReduceWindowSum(a, [2], [1], [(0, 0)], baseDilation: [2]), D([1, 2, 3], 3));
        Assert.Equal(new double[] { 1, 2, 2, 3 }, z.ToArray<double>());
        Assert.Equal(new double[] { 1, 10 + 100, 1000 }, pb2(D([1, 10, 100, 1000], 4)).ToArray<double>());
    }

    [Fact]
    public void MaxPoolGradientRoutesToTheMaximum()
    {
        // jax.grad(lambda x: reduce_window(x, -inf, max, (2,), (1,), 'VALID').sum())([1, 3, 2, 5, 4]) = [0, 2, 0, 2, 0]
        var g = Grad((Tensor x) => Lax.ReduceWindowMax(x, [2], [1], [(0, 0)]).Sum())(D([1, 3, 2, 5, 4], 5));
        Assert.Equal(new double[] { 0, 2, 0, 2, 0 }, g.ToArray<double>());
        var gmin = Grad((Tensor x) => Lax.ReduceWindowMin(x, [2], [1], [(0, 0)]).Sum())(D([1, 3, 2, 5, 4], 5));
        Assert.Equal(new double[] { 1, 0, 2, 0, 1 }, gmin.ToArray<double>());
        // 2×2 max pool of 0..15: the maxima are 5, 7, 13, 15.
        var x2 = Np.Arange(16, DType.Float64).Reshape(1, 4, 4, 1);
        var gp = Grad((Tensor x) => Pooling.MaxPool(x, [2, 2], [2, 2]).Sum())(x2).ToArray<double>();
        var expected = new double[16];
        foreach (var i in new[] { 5, 7, 13, 15 }) expected[i] = 1;
        Assert.Equal(expected, gp);
        var ga = Grad((Tensor x) => Pooling.AvgPool(x, [2, 2], [2, 2]).Sum())(x2).ToArray<double>();
        Assert.Equal(Enumerable.Repeat(0.25, 16).ToArray(), ga);
    }

    [Fact]
    public void MaxPoolForwardTangentPicksTheMaximum()
    {
        var x = D([1, 3, 2, 5, 4], 5);
        var t = D([10, 20, 30, 40, 50], 5);
        var (y, ty) = Jvp((Tensor a) => Lax.ReduceWindowMax(a, [3], [2], [(1, 1)]), x, t);
        // windows (padded with -inf): [-inf, 1, 3], [3, 2, 5], [5, 4, -inf]
        Assert.Equal(new double[] { 3, 5, 5 }, y.ToArray<double>());
        Assert.Equal(new double[] { 20, 40, 40 }, ty.ToArray<double>());
    }

    [Fact]
    public void TiedMaximaShareTheGradient()
    {
        // Jx differentiates through reduce_max, which splits the gradient evenly among tied maxima (JAX's
        // select_and_gather_add picks one of them instead; both agree wherever the maximum is unique).
        var g = Grad((Tensor x) => Lax.ReduceWindowMax(x, [2], [2], [(0, 0)]).Sum())(D([7, 7, 1, 2], 4));
        Assert.Equal(new double[] { 0.5, 0.5, 0, 1 }, g.ToArray<double>());
    }

    [Fact]
    public void IntegerMaxPoolHasNoTangent()
    {
        var x = Tensor.FromArray(new[] { 1, 3, 2, 5 }, new Shape(4));
        var (y, t) = Jvp((Tensor a) => Lax.ReduceWindowMax(a, [2], [1], [(0, 0)]), x, x);
        Assert.Equal(new[] { 3, 3, 5 }, y.ToArray<int>());
        Assert.Equal(new Shape(3), t.Shape);
        Assert.Equal(new double[] { 0, 0, 0 }, t.ToDoubleArray());
    }

    // ---------------- Vmap ----------------

    private static void AssertSame(Tensor expected, Tensor actual)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.Equal(expected.ToArray<double>(), actual.ToArray<double>());
    }

    /// <summary>vmap(conv) over the given axes against stacking per-example convs, and the batched jaxpr holds one conv.</summary>
    private static void CheckVmapConv(Func<Tensor, Tensor, Tensor> conv, Tensor lhs, Tensor rhs, int? lhsAxis, int? rhsAxis)
    {
        int size = lhsAxis is int la ? lhs.Shape[la] : rhs.Shape[rhsAxis!.Value];
        var batched = Vmap(conv, inAxes: [lhsAxis, rhsAxis]);
        var got = batched(lhs, rhs);
        var expected = Np.Stack(Enumerable.Range(0, size).Select(b =>
            conv(lhsAxis is int l ? Take(lhs, l, b) : lhs, rhsAxis is int r ? Take(rhs, r, b) : rhs)).ToArray());
        AssertSame(expected, got);
        Assert.Equal(1, CountConvs(Jax.MakeJaxpr(batched)(lhs, rhs)));
    }

    [Fact]
    public void VmapConvLhsBatched()
    {
        Func<Tensor, Tensor, Tensor> conv = (l, r) => Lax.ConvGeneralDilated(l, r, [2, 1], [(1, 0), (0, 1)], rhsDilation: [1, 2]);
        CheckVmapConv(conv, Ints(1, 3, 2, 2, 5, 5), Ints(2, 4, 2, 2, 2), 0, null);
        CheckVmapConv(conv, Ints(3, 2, 2, 5, 3, 5), Ints(4, 4, 2, 2, 2), 3, null); // batch axis inside the spatial dims
    }

    [Fact]
    public void VmapConvRhsBatched()
    {
        Func<Tensor, Tensor, Tensor> conv = (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1], "SAME");
        CheckVmapConv(conv, Ints(5, 2, 3, 4, 4), Ints(6, 3, 2, 3, 2, 2), null, 0);
        CheckVmapConv(conv, Ints(7, 2, 3, 4, 4), Ints(8, 2, 3, 2, 2, 3), null, 4);
    }

    [Fact]
    public void VmapConvBothBatched()
    {
        Func<Tensor, Tensor, Tensor> conv = (l, r) => Lax.ConvGeneralDilated(l, r, [1, 2], [(1, 1), (0, 0)], lhsDilation: [2, 1]);
        CheckVmapConv(conv, Ints(9, 3, 2, 2, 4, 5), Ints(10, 3, 4, 2, 2, 2), 0, 0);
        CheckVmapConv(conv, Ints(11, 2, 2, 3, 4, 5), Ints(12, 4, 2, 3, 2, 2), 2, 2);
    }

    [Fact]
    public void VmapConvWithFeatureGroups()
    {
        // lhs features 4 in 2 groups of 2; 6 output features, 3 per group.
        Func<Tensor, Tensor, Tensor> conv = (l, r) => Lax.ConvGeneralDilated(l, r, [1, 1], "SAME", featureGroupCount: 2);
        CheckVmapConv(conv, Ints(13, 3, 2, 4, 4, 4), Ints(14, 6, 2, 2, 2), 0, null);
        CheckVmapConv(conv, Ints(15, 2, 4, 4, 4), Ints(16, 6, 3, 2, 2, 2), null, 1);
        CheckVmapConv(conv, Ints(17, 2, 4, 3, 4, 4), Ints(18, 6, 2, 2, 2, 3), 2, 4);
    }

    [Fact]
    public void VmapConvWithBatchGroups()
    {
        // lhs batch 4 in 2 groups; 4 output features, 2 per group; output batch 2.
        Func<Tensor, Tensor, Tensor> conv = (l, r) => Lax.ConvGeneralDilated(l, r, [2, 1], "VALID", batchGroupCount: 2);
        CheckVmapConv(conv, Ints(19, 3, 4, 2, 5, 4), Ints(20, 4, 2, 2, 2), 0, null);
        CheckVmapConv(conv, Ints(21, 4, 2, 5, 3, 4), Ints(22, 4, 2, 2, 2), 3, null);
        CheckVmapConv(conv, Ints(23, 4, 2, 5, 4), Ints(24, 3, 4, 2, 2, 2), null, 0);
        CheckVmapConv(conv, Ints(25, 4, 2, 5, 4, 3), Ints(26, 4, 2, 3, 2, 2), 4, 2);
    }

    [Fact]
    public void VmapConvNhwc()
    {
        Func<Tensor, Tensor, Tensor> conv = (l, r) => Lax.ConvGeneralDilated(l, r, [2, 2], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC"), featureGroupCount: 2);
        CheckVmapConv(conv, Ints(27, 2, 5, 3, 5, 4), Ints(28, 2, 2, 2, 6), 2, null);
        CheckVmapConv(conv, Ints(29, 2, 5, 5, 4), Ints(30, 2, 2, 2, 6, 3), null, 4);
        CheckVmapConv(conv, Ints(31, 3, 2, 5, 5, 4), Ints(32, 2, 2, 3, 2, 6), 0, 2);
    }

    [Fact]
    public void VmapOfPerExampleConvGradients()
    {
        // Per-example kernel gradients: the batched transposes (lhs dilation, reversed kernels, swapped specs) equal the loop.
        var w = Ints(33, 3, 2, 3, 3);
        var xs = Ints(34, 4, 1, 2, 6, 5);
        Func<Tensor, Tensor, Tensor> loss = (k, x) => Np.Square(Lax.ConvGeneralDilated(x, k, [2, 1], "SAME")).Sum();
        var perExample = Vmap(Grad(loss), inAxes: [null, 0])(w, xs);
        var loop = Np.Stack(Enumerable.Range(0, 4).Select(b => Grad(loss)(w, Take(xs, 0, b))).ToArray());
        AssertSame(loop, perExample);
        Func<Tensor, Tensor, Tensor> lossX = (x, k) => Np.Square(Lax.ConvGeneralDilated(x, k, [2, 1], "SAME")).Sum();
        var ws = Ints(35, 4, 3, 2, 3, 3);
        var x0 = Ints(36, 1, 2, 6, 5);
        var perKernel = Vmap(Grad(lossX), inAxes: [null, 0])(x0, ws);
        var loopX = Np.Stack(Enumerable.Range(0, 4).Select(b => Grad(lossX)(x0, Take(ws, 0, b))).ToArray());
        AssertSame(loopX, perKernel);
    }

    [Fact]
    public void VmapWindowedReductions()
    {
        var x = Ints(37, 4, 3, 5);
        foreach (var comp in new[] { "sum", "max", "min" })
        {
            Func<Tensor, Tensor> f = a => Lax.ReduceWindow(a, comp, [2, 3], [2, 1], [(1, 0), (1, 1)], windowDilation: [1, 2]);
            foreach (var axis in new[] { 0, 1, 2 })
            {
                var got = Vmap(f, inAxes: axis)(x);
                var expected = Np.Stack(Enumerable.Range(0, x.Shape[axis]).Select(b => f(Take(x, axis, b))).ToArray());
                AssertSame(expected, got);
            }
        }
        var pooled = Vmap((Tensor a) => Pooling.MaxPool(a, [2, 2], [2, 2], "SAME"))(Ints(38, 3, 2, 5, 5, 2));
        Assert.Equal(new Shape(3, 2, 3, 3, 2), pooled.Shape);
    }

    [Fact]
    public void VmapOfMaxPoolGradient()
    {
        Func<Tensor, Tensor> loss = a => Np.Square(Pooling.MaxPool(a, [2, 2], [1, 2])).Sum();
        var xs = Distinct(39, 3, 1, 4, 5, 2);
        var got = Vmap(Grad(loss))(xs);
        var expected = Np.Stack(Enumerable.Range(0, 3).Select(b => Grad(loss)(Take(xs, 0, b))).ToArray());
        AssertSame(expected, got);
    }

    // ---------------- a tiny CNN ----------------

    private static Tensor CnnLoss((Tensor W1, Tensor B1, Tensor W2) p, Tensor x, Tensor y)
    {
        var h = Lax.ConvGeneralDilated(x, p.W1, [1, 1], "SAME", dimensionNumbers: ("NHWC", "HWIO", "NHWC")) + p.B1;
        var pooled = Pooling.MaxPool(Nn.Relu(h), [2, 2], [2, 2]);
        var logits = pooled.Reshape(x.Shape[0], -1).Matmul(p.W2);
        return Np.Square(logits - y).Sum();
    }

    [Fact]
    public void TinyCnnGradientMatchesFiniteDifferences()
    {
        var x = Rand(40, 2, 6, 6, 1);
        var y = Rand(41, 2, 3);
        var p = (W1: Np.Multiply(Rand(42, 3, 3, 1, 2), 0.5), B1: Np.Multiply(Rand(43, 2), 0.1), W2: Np.Multiply(Rand(44, 18, 3), 0.3));
        var g = Grad(((Tensor W1, Tensor B1, Tensor W2) q) => CnnLoss(q, x, y))(p);

        var leaves = new[] { p.W1, p.B1, p.W2 };
        var grads = new[] { g.W1, g.B1, g.W2 };
        const double eps = 1e-6;
        for (int li = 0; li < leaves.Length; li++)
        {
            Assert.Equal(leaves[li].Shape, grads[li].Shape);
            var baseVals = leaves[li].ToArray<double>();
            var analytic = grads[li].ToArray<double>();
            for (int i = 0; i < baseVals.Length; i++)
            {
                double Eval(double delta)
                {
                    var v = (double[])baseVals.Clone();
                    v[i] += delta;
                    var ls = (Tensor[])leaves.Clone();
                    ls[li] = Tensor.FromArray(v, leaves[li].Shape);
                    return CnnLoss((ls[0], ls[1], ls[2]), x, y).Item<double>();
                }
                double numeric = (Eval(eps) - Eval(-eps)) / (2 * eps);
                Assert.True(Math.Abs(numeric - analytic[i]) <= 1e-6 + 1e-6 * Math.Abs(numeric),
                    $"parameter {li}[{i}]: grad {analytic[i]} vs finite differences {numeric}");
            }
        }
        // The gradient is not trivially zero.
        Assert.Contains(grads[0].ToArray<double>(), v => Math.Abs(v) > 1e-3);
    }
}
