namespace Jx.Tests;

/// <summary>Reductions over axes (negative, several, keepDims), mean/var/std with ddof, argmax/argmin with ties and NaN,
/// and the cumulative scans, forward and reversed.</summary>
public class ReductionTests
{
    /// <summary>x[a, j, k] = 12a + 4j + k, shape (2, 3, 4), float32.</summary>
    private static Tensor X() => Np.Arange(24).Reshape(2, 3, 4).AsType(DType.Float32);

    [Fact]
    public void SumOverAllAndSingleAxes()
    {
        var x = X();
        Assert.Equal(276f, x.Sum().Item<float>());
        Assert.Equal(Shape.Scalar, x.Sum().Shape);
        var s0 = x.Sum(0);
        Assert.Equal(new Shape(3, 4), s0.Shape);
        Assert.Equal(Enumerable.Range(0, 12).Select(i => 2f * i + 12).ToArray(), s0.ToArray<float>());
        Assert.Equal(new float[] { 12, 15, 18, 21, 48, 51, 54, 57 }, x.Sum(1).ToArray<float>());
        Assert.Equal(new float[] { 6, 22, 38, 54, 70, 86 }, x.Sum(2).ToArray<float>());
        Assert.Equal(x.Sum(2).ToArray<float>(), x.Sum(-1).ToArray<float>());
        Assert.Equal(x.Sum(0).ToArray<float>(), x.Sum(-3).ToArray<float>());
    }

    [Fact]
    public void SumOverSeveralAxesAndKeepDims()
    {
        var x = X();
        var s = x.Sum([0, 2]);
        Assert.Equal(new Shape(3), s.Shape);
        Assert.Equal(new float[] { 60, 92, 124 }, s.ToArray<float>());
        var k = Np.Sum(x, [-1, 0], keepDims: true);
        Assert.Equal(new Shape(1, 3, 1), k.Shape);
        Assert.Equal(new float[] { 60, 92, 124 }, k.ToArray<float>());
        Assert.Equal(new Shape(2, 1, 4), x.Sum(1, keepDims: true).Shape);
        Assert.Equal(new Shape(1, 1, 1), x.Sum(keepDims: true).Shape);
        Assert.Equal(new float[] { 12, 15, 18, 21, 48, 51, 54, 57 }, x.Sum(1, keepDims: true).ToArray<float>());
        // non-contiguous axes [0, 2] with keepDims
        Assert.Equal(new Shape(1, 3, 1), x.Sum([0, 2], keepDims: true).Shape);
    }

    [Fact]
    public void MaxMinProd()
    {
        var x = X();
        Assert.Equal(new float[] { 8, 9, 10, 11, 20, 21, 22, 23 }, x.Max(1).ToArray<float>());
        Assert.Equal(new float[] { 0, 4, 8, 12, 16, 20 }, x.Min(-1).ToArray<float>());
        Assert.Equal(23f, x.Max().Item<float>());
        Assert.Equal(new float[] { 0, 1, 2, 3 }, x.Min([0, 1]).ToArray<float>());
        var p = Np.Array(new[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal(720, p.Prod().Item<int>());
        Assert.Equal(new[] { 6, 120 }, p.Prod([1]).ToArray<int>());
        Assert.Equal(new[] { 4, 10, 18 }, Np.Prod(p, 0).ToArray<int>());
        Assert.Equal(DType.Int32, p.Max().DType);
        Assert.Equal(new[] { -1L }, Np.Max(Np.Array(new[] { -5L, -1L, long.MinValue }), 0, keepDims: true).ToArray<long>());
        Assert.Equal(new[] { 7u }, Np.Max(Np.Array(new uint[] { 7, 3 }), 0, keepDims: true).ToArray<uint>());
    }

    [Fact]
    public void ReductionsPropagateNaN()
    {
        var v = Np.Array(new[] { 1f, float.NaN, 3f });
        Assert.True(float.IsNaN(v.Sum().Item<float>()));
        Assert.True(float.IsNaN(v.Max().Item<float>()));
        Assert.True(float.IsNaN(v.Min().Item<float>()));
        var m = Np.Array(new[,] { { 1.0, double.NaN }, { 3.0, 4.0 } });
        var mx = m.Max(0).ToArray<double>();
        Assert.Equal(3.0, mx[0]);
        Assert.True(double.IsNaN(mx[1]));
        var mn = m.Min(1).ToArray<double>();
        Assert.True(double.IsNaN(mn[0]));
        Assert.Equal(3.0, mn[1]);
    }

    [Fact]
    public void EmptyReductionsGiveTheIdentity()
    {
        Assert.Equal(0f, Np.Zeros([0]).Sum().Item<float>());
        Assert.Equal(1f, Np.Zeros([0]).Prod().Item<float>());
        Assert.Equal(float.NegativeInfinity, Lax.ReduceMax(Np.Zeros([0]), [0]).Item<float>());
        Assert.Equal(float.PositiveInfinity, Lax.ReduceMin(Np.Zeros([0]), [0]).Item<float>());
        Assert.Equal(int.MinValue, Lax.ReduceMax(Np.Zeros([0], DType.Int32), [0]).Item<int>());
        Assert.Equal(new float[] { 0, 0 }, Np.Zeros([2, 0]).Sum(1).ToArray<float>());
        Assert.True(Np.All(Np.Zeros([0], DType.Bool)).Item<bool>());
        Assert.False(Np.Any(Np.Zeros([0], DType.Bool)).Item<bool>());
    }

    [Fact]
    public void BoolAndIntegerSums()
    {
        var b = Np.Array(new[] { true, false, true, true });
        var s = Np.Sum(b);
        Assert.Equal(DType.Int32, s.DType);
        Assert.Equal(3, s.Item<int>());
        Assert.Equal(DType.Int32, Np.Prod(b).DType);
        // int32 sums wrap like XLA's
        Assert.Equal(int.MinValue, Np.Array(new[] { int.MaxValue, 1 }).Sum().Item<int>());
        Assert.Equal(6.0, Np.Sum(Np.Array(new[] { 1, 2, 3 }), dtype: DType.Float64).Item());
        Assert.Equal(DType.Float64, Np.Sum(Np.Array(new[] { 1, 2, 3 }), dtype: DType.Float64).DType);
    }

    [Fact]
    public void AllAndAny()
    {
        var x = Np.Array(new[,] { { 1, 0, 2 }, { 3, 4, 5 } });
        Assert.False(Np.All(x).Item<bool>());
        Assert.True(Np.Any(x).Item<bool>());
        Assert.Equal(new[] { false, true }, Np.All(x, [1]).ToArray<bool>());
        Assert.Equal(new[] { true, false, true }, Np.All(x, [0]).ToArray<bool>());
        Assert.Equal(new[] { true, true, true }, Np.Any(x, [-2]).ToArray<bool>());
        Assert.Equal(new Shape(2, 1), Np.All(x, [1], keepDims: true).Shape);
        Assert.True(Np.Any(Np.Array(new[] { 0f, float.NaN })).Item<bool>());
    }

    [Fact]
    public void MeanVarStd()
    {
        var x = X();
        Assert.Equal(Enumerable.Range(0, 12).Select(i => i + 6f).ToArray(), x.Mean(0).ToArray<float>());
        Assert.Equal(11.5f, x.Mean().Item<float>());
        var i = Np.Array(new[] { 1, 2, 3, 4 });
        Assert.Equal(DType.Float32, i.Mean().DType);
        Assert.Equal(2.5f, i.Mean().Item<float>());
        Assert.Equal(1.25f, i.Var().Item<float>());
        Assert.Equal(5f / 3, Np.Var(i, ddof: 1).Item<float>());
        Assert.Equal(MathF.Sqrt(1.25f), i.Std().Item<float>());
        Assert.Equal(MathF.Sqrt(5f / 3), Np.Std(i, ddof: 1).Item<float>());
        var m = Np.Array(new[,] { { 1.0, 2.0 }, { 3.0, 7.0 } });
        Assert.Equal(new[] { 1.0, 6.25 }, m.Var([0]).ToArray<double>());
        Assert.Equal(new[] { 0.25, 4.0 }, Np.Var(m, 1).ToArray<double>());
        Assert.Equal(new[] { 0.5, 8.0 }, Np.Var(m, 1, ddof: 1).ToArray<double>());
        Assert.Equal(new Shape(2, 1), Np.Std(m, 1, keepDims: true).Shape);
        Assert.Equal(new[] { 0.5, 2.0 }, Np.Std(m, 1, keepDims: true).ToArray<double>());
        // ddof equal to the count divides by zero: inf (or NaN for zero deviation), as NumPy
        Assert.Equal(double.PositiveInfinity, Np.Var(Np.Array(new[] { 1.0, 2.0 }), ddof: 2).Item());
        Assert.True(double.IsNaN(Np.Var(Np.Array(new[] { 1.0 }), ddof: 1).Item()));
    }

    [Fact]
    public void ArgmaxArgminTakeTheFirstOfTies()
    {
        var v = Np.Array(new[] { 1f, 3f, 3f, 2f });
        Assert.Equal(1, v.Argmax().Item<int>());
        Assert.Equal(DType.Int32, v.Argmax().DType);
        Assert.Equal(0, Np.Argmin(Np.Array(new[] { 1, 5, 1 })).Item<int>());
        var m = Np.Array(new[,] { { 1, 9, 9 }, { 7, 2, 7 } });
        Assert.Equal(new[] { 1, 0 }, m.Argmax(1).ToArray<int>());
        Assert.Equal(new[] { 1, 0, 0 }, m.Argmax(0).ToArray<int>());
        Assert.Equal(new[] { 0, 1, 1 }, m.Argmin(0).ToArray<int>());
        Assert.Equal(new[] { 0, 1 }, m.Argmin(-1).ToArray<int>());
        Assert.Equal(1, m.Argmax().Item<int>()); // flattened
        Assert.Equal(new Shape(2, 1), Np.Argmax(m, 1, keepDims: true).Shape);
        Assert.Equal(DType.Int64, Lax.ArgMax(m, 0, DType.Int64).DType);
    }

    [Fact]
    public void ArgmaxArgminReturnTheFirstNaN()
    {
        Assert.Equal(1, Np.Array(new[] { 1f, float.NaN, 3f, float.NaN }).Argmax().Item<int>());
        Assert.Equal(3, Np.Array(new[] { 3.0, 1, 1, double.NaN }).Argmin().Item<int>());
        Assert.Equal(0, Np.Array(new[] { float.NaN, 5f }).Argmin().Item<int>());
        Assert.Equal(new[] { 0, 1 }, Np.Array(new[,] { { float.NaN, 1f }, { 2f, float.NaN } }).Argmax(1).ToArray<int>());
        Assert.Equal(1, Np.Array(new[] { true, false, true }).Argmin().Item<int>());
    }

    [Fact]
    public void ArgmaxOfAnEmptyAxisIsAnError()
    {
        var e = Assert.Throws<ShapeError>(() => Np.Argmax(Np.Zeros([2, 0]), 1));
        Assert.Contains("argmax", e.Message);
        Assert.Contains("(2, 0)", e.Message);
    }

    [Fact]
    public void CumulativeScans()
    {
        var v = Np.Array(new[] { 1f, 2f, 3f, 4f });
        Assert.Equal(new[] { 1f, 3f, 6f, 10f }, Np.Cumsum(v).ToArray<float>());
        Assert.Equal(new[] { 10f, 9f, 7f, 4f }, Lax.Cumsum(v, 0, reverse: true).ToArray<float>());
        Assert.Equal(new[] { 1f, 2f, 6f, 24f }, Np.Cumprod(v).ToArray<float>());
        Assert.Equal(new[] { 24f, 24f, 12f, 4f }, Lax.Cumprod(v, 0, reverse: true).ToArray<float>());
        var w = Np.Array(new[] { 1, 3, 2, 5, 4 });
        Assert.Equal(new[] { 1, 3, 3, 5, 5 }, Np.CumMax(w).ToArray<int>());
        Assert.Equal(new[] { 5, 5, 5, 5, 4 }, Lax.Cummax(w, 0, reverse: true).ToArray<int>());
        Assert.Equal(new[] { 1, 1, 1, 1, 1 }, Lax.Cummin(w).ToArray<int>());
        Assert.Equal(new[] { 1, 2, 2, 4, 4 }, Lax.Cummin(w, 0, reverse: true).ToArray<int>());
    }

    [Fact]
    public void CumulativeScansAlongAxes()
    {
        var m = Np.Array(new[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal(new[] { 1, 2, 3, 5, 7, 9 }, Np.Cumsum(m, 0).ToArray<int>());
        Assert.Equal(new[] { 1, 3, 6, 4, 9, 15 }, Np.Cumsum(m, 1).ToArray<int>());
        Assert.Equal(new[] { 1, 3, 6, 4, 9, 15 }, Np.Cumsum(m, -1).ToArray<int>());
        Assert.Equal(new[] { 6, 5, 3, 15, 11, 6 }, Lax.Cumsum(m, 1, reverse: true).ToArray<int>());
        Assert.Equal(new[] { 4, 10, 18, 4, 5, 6 }, Lax.Cumprod(m, 0, reverse: true).ToArray<int>());
        Assert.Equal(new[] { 1, 3, 6, 10, 15, 21 }, Np.Cumsum(m).ToArray<int>()); // flattened
        Assert.Equal(new Shape(2, 3), Np.Cumsum(m, 1).Shape);
        var b = Np.Cumsum(Np.Array(new[] { true, true, false, true }));
        Assert.Equal(DType.Int32, b.DType);
        Assert.Equal(new[] { 1, 2, 2, 3 }, b.ToArray<int>());
    }

    [Fact]
    public void CummaxPropagatesNaN()
    {
        var y = Lax.Cummax(Np.Array(new[] { 1f, float.NaN, 3f })).ToArray<float>();
        Assert.Equal(1f, y[0]);
        Assert.True(float.IsNaN(y[1]) && float.IsNaN(y[2]));
        var r = Lax.Cummin(Np.Array(new[] { 1f, float.NaN, 3f }), 0, reverse: true).ToArray<float>();
        Assert.True(float.IsNaN(r[0]) && float.IsNaN(r[1]));
        Assert.Equal(3f, r[2]);
    }

    [Fact]
    public void HalfPrecisionReductionsComputeInFloat32()
    {
        var h = Np.Array(new[] { 2048f, 1f, 1f }).AsType(DType.Float16);
        var s = h.Sum();
        Assert.Equal(DType.Float16, s.DType);
        Assert.Equal(2050.0, s.Item()); // summed in float32, rounded once (2049 would round to 2048)
        Assert.Equal(2048.0, h.Max().Item());
        Assert.Equal(new[] { 2048.0, 2048.0, 2050.0 }, Np.Cumsum(h).ToDoubleArray());
    }

    [Fact]
    public void BadAxesAreAxisErrors()
    {
        var x = X();
        var e = Assert.Throws<AxisError>(() => x.Sum(3));
        Assert.Contains("Sum", e.Message);
        Assert.Contains("axis 3", e.Message);
        Assert.Contains("rank 3", e.Message);
        Assert.Throws<AxisError>(() => x.Max(-4));
        var r = Assert.Throws<AxisError>(() => x.Sum([1, -2]));
        Assert.Contains("repeated", r.Message);
        Assert.Throws<AxisError>(() => Np.Cumsum(x, 3));
        Assert.Throws<AxisError>(() => Lax.ReduceSum(x, [5]));
    }
}
