namespace Jx.Tests;

public class SortTests
{
    private static Tensor F(params float[] v) => Tensor.FromArray(v);
    private static Tensor I(params int[] v) => Tensor.FromArray(v);
    // .NET's float.NaN has its sign bit set, so NaNs of a known sign are built from their bits.
    private static readonly float PosNaN = BitConverter.Int32BitsToSingle(0x7FC00000);
    private static readonly float NegNaN = BitConverter.Int32BitsToSingle(unchecked((int)0xFFC00000));

    [Fact]
    public void SortAscendingFloats()
    {
        Assert.Equal(new[] { 1f, 2f, 3f }, Lax.Sort(F(3, 1, 2)).ToArray<float>());
        Assert.Equal(new[] { -5, 0, 7, 9 }, Lax.Sort(I(9, -5, 7, 0)).ToArray<int>());
    }

    [Fact]
    public void SortPutsNaNsLastAndTreatsSignedZerosAsEqual()
    {
        // lax.sort standardizes -0.0 to 0.0 and every NaN to +NaN before comparing, and the sort is stable:
        // the zeros and the NaNs keep their original order.
        var x = F(PosNaN, 2, float.NegativeInfinity, -0.0f, float.PositiveInfinity, 0.0f, -1, NegNaN);
        var y = Lax.Sort(x).ToArray<float>();
        Assert.Equal(float.NegativeInfinity, y[0]);
        Assert.Equal(-1f, y[1]);
        Assert.True(y[2] == 0 && float.IsNegative(y[2]), "-0.0 stays before 0.0");
        Assert.True(y[3] == 0 && !float.IsNegative(y[3]));
        Assert.Equal(2f, y[4]);
        Assert.Equal(float.PositiveInfinity, y[5]);
        Assert.True(float.IsNaN(y[6]) && !float.IsNegative(y[6]), "+NaN (index 0) first");
        Assert.True(float.IsNaN(y[7]) && float.IsNegative(y[7]), "-NaN (index 7) also sorts last");
    }

    [Fact]
    public void SortFloat64AndUInt32AndBool()
    {
        var d = Lax.Sort(Tensor.FromArray(new[] { 2.5, double.NaN, -1e300, 0.0 })).ToArray<double>();
        Assert.Equal(-1e300, d[0]);
        Assert.Equal(0.0, d[1]);
        Assert.Equal(2.5, d[2]);
        Assert.True(double.IsNaN(d[3]));

        // uint32 compares unsigned: 4e9 is the largest.
        var u = Lax.Sort(Tensor.FromArray(new uint[] { 4_000_000_000, 1, 3_000_000_000, 0 })).ToArray<uint>();
        Assert.Equal(new uint[] { 0, 1, 3_000_000_000, 4_000_000_000 }, u);

        var b = Lax.Sort(Tensor.FromArray(new[] { true, false, true, false })).ToArray<bool>();
        Assert.Equal(new[] { false, false, true, true }, b);
    }

    [Fact]
    public void SortKeyValIsStable()
    {
        var (k, v) = Lax.SortKeyVal(I(1, 0, 1, 0, 1), F(0, 1, 2, 3, 4));
        Assert.Equal(new[] { 0, 0, 1, 1, 1 }, k.ToArray<int>());
        Assert.Equal(new[] { 1f, 3f, 0f, 2f, 4f }, v.ToArray<float>());
    }

    [Fact]
    public void SortWithTwoKeysIsLexicographic()
    {
        var outs = Lax.Sort([I(1, 1, 0, 0), I(2, 1, 2, 1), F(0, 1, 2, 3)], dimension: 0, numKeys: 2);
        Assert.Equal(3, outs.Length);
        Assert.Equal(new[] { 0, 0, 1, 1 }, outs[0].ToArray<int>());
        Assert.Equal(new[] { 1, 2, 1, 2 }, outs[1].ToArray<int>());
        Assert.Equal(new[] { 3f, 2f, 1f, 0f }, outs[2].ToArray<float>());

        // With one key, the second operand is only carried along (stable order among equal first keys).
        var one = Lax.Sort([I(1, 1, 0, 0), I(2, 1, 2, 1)], dimension: 0, numKeys: 1);
        Assert.Equal(new[] { 2, 1, 2, 1 }, one[1].ToArray<int>());
    }

    [Fact]
    public void SortAlongEachDimensionOfAMatrix()
    {
        var x = Np.Array(new float[,] { { 3, 1, 2 }, { 0, 5, -1 } });
        Assert.Equal(new[] { 1f, 2f, 3f, -1f, 0f, 5f }, Lax.Sort(x, 1).ToArray<float>());
        Assert.Equal(new[] { 0f, 1f, -1f, 3f, 5f, 2f }, Lax.Sort(x, 0).ToArray<float>());
        Assert.Equal(new[] { 1f, 2f, 3f, -1f, 0f, 5f }, Lax.Sort(x, -1).ToArray<float>());
    }

    [Fact]
    public void SortAlongTheMiddleAxisOfARank3Array()
    {
        // x[i, j, k] = values along j reversed per (i, k).
        var x = Np.Array(new int[,,] { { { 3, 30 }, { 2, 20 }, { 1, 10 } }, { { 6, 4 }, { 5, 9 }, { 4, 7 } } });
        var y = Lax.Sort(x, 1);
        Assert.Equal(new[] { 1, 10, 2, 20, 3, 30, 4, 4, 5, 7, 6, 9 }, y.ToArray<int>());
    }

    [Fact]
    public void SortErrorsAreTyped()
    {
        Assert.Throws<ShapeError>(() => Lax.Sort([F(1, 2), F(1, 2, 3)], 0));
        Assert.Throws<AxisError>(() => Lax.Sort(F(1, 2), 3));
        Assert.Throws<InvalidArgumentError>(() => Lax.Sort([F(1, 2), F(3, 4)], 0, numKeys: 3));
        Assert.Throws<InvalidArgumentError>(() => Lax.Sort([], 0));
    }

    [Fact]
    public void TopKReturnsLargestWithLowerIndexFirstOnTies()
    {
        var (v, i) = Lax.TopK(F(1, 3, 3, 2), 2);
        Assert.Equal(new[] { 3f, 3f }, v.ToArray<float>());
        Assert.Equal(new[] { 1, 2 }, i.ToArray<int>());
        Assert.Equal(DType.Int32, i.DType);

        var (v2, i2) = Lax.TopK(I(5, 1, 5, 7, 5), 4);
        Assert.Equal(new[] { 7, 5, 5, 5 }, v2.ToArray<int>());
        Assert.Equal(new[] { 3, 0, 2, 4 }, i2.ToArray<int>());
    }

    [Fact]
    public void TopKUsesTheTotalOrderForNaNs()
    {
        // XLA's TopK: -NaN < -inf < ... < inf < +NaN.
        var (v, i) = Lax.TopK(F(1, PosNaN, float.PositiveInfinity, NegNaN, float.NegativeInfinity), 5);
        Assert.Equal(new[] { 1, 2, 0, 4, 3 }, i.ToArray<int>());
        var vals = v.ToArray<float>();
        Assert.True(float.IsNaN(vals[0]) && !float.IsNegative(vals[0]));
        Assert.True(float.IsNaN(vals[4]) && float.IsNegative(vals[4]));
        Assert.Equal(new[] { float.PositiveInfinity, 1f, float.NegativeInfinity }, vals[1..4]);
    }

    [Fact]
    public void TopKWorksOnTheLastAxisOfEveryRow()
    {
        var x = Np.Array(new float[,] { { 0.1f, 0.9f, 0.5f }, { 7, -2, 8 } });
        var (v, i) = Lax.TopK(x, 2);
        Assert.Equal(new Shape(2, 2), v.Shape);
        Assert.Equal(new[] { 0.9f, 0.5f, 8f, 7f }, v.ToArray<float>());
        Assert.Equal(new[] { 1, 2, 2, 0 }, i.ToArray<int>());

        var (e, ei) = Lax.TopK(x, 0);
        Assert.Equal(new Shape(2, 0), e.Shape);
        Assert.Equal(new Shape(2, 0), ei.Shape);
    }

    [Fact]
    public void TopKErrorsAreTyped()
    {
        Assert.Throws<InvalidArgumentError>(() => Lax.TopK(F(1, 2), 3));
        Assert.Throws<InvalidArgumentError>(() => Lax.TopK(F(1, 2), -1));
        Assert.Throws<ShapeError>(() => Lax.TopK(Tensor.Scalar(1f), 1));
    }

    [Fact]
    public void NpSortAndArgsort()
    {
        Assert.Equal(new[] { 0, 1, 3, 2 }, Np.Sort(Np.Array(new[,] { { 3, 1 }, { 0, 2 } }), axis: 0).ToArray<int>());
        Assert.Equal(new[] { 0, 1, 2, 3 }, Np.Sort(Np.Array(new[,] { { 3, 1 }, { 0, 2 } }), axis: null).ToArray<int>());
        Assert.Equal(new[] { 3f, 2f, 1f }, Np.Sort(F(1, 3, 2), descending: true).ToArray<float>());

        var idx = Np.Argsort(F(3, 1, 2, 1));
        Assert.Equal(DType.Int32, idx.DType);
        Assert.Equal(new[] { 1, 3, 2, 0 }, idx.ToArray<int>());
        // Stable also when descending: of the equal 1s, index 1 comes before index 3.
        Assert.Equal(new[] { 0, 2, 1, 3 }, Np.Argsort(F(3, 1, 2, 1), descending: true).ToArray<int>());
        Assert.Equal(new[] { 2, 1, 0, 3 }, Np.Argsort(F(1, 2, float.NaN, 0), descending: true).ToArray<int>());
        Assert.Equal(new[] { 1, 0, 0, 1 }, Np.Argsort(Np.Array(new float[,] { { 5, 4 }, { 1, 2 } }), axis: 1).ToArray<int>());
        Assert.Equal(new[] { 2, 1, 0, 3 }, Np.Argsort(Np.Array(new float[,] { { 5, 4 }, { 1, 9 } }), axis: null).ToArray<int>());
    }

    [Fact]
    public void SortTracesToOneEquationWithJaxParams()
    {
        var j = Jax.MakeJaxpr((Tensor x) => Lax.Sort(x)).Invoke(Np.Ones([3]));
        Assert.Contains("sort[dimension=0 is_stable=True num_keys=1] a", j.ToString());
        var t = Jax.MakeJaxpr((Tensor x) => Lax.TopK(x, 2).Values).Invoke(Np.Ones([4]));
        Assert.Contains("top_k[k=2] a", t.ToString());
    }
}
