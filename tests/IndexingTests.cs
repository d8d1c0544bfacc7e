namespace Jx.Tests;

public class IndexingTests
{
    private static Tensor M() => Np.Arange(12).Reshape(3, 4); // [[0..3],[4..7],[8..11]]

    [Fact]
    public void IntRangeAndFromEndIndexing()
    {
        var x = M();
        Assert.Equal(new[] { 4, 5, 6, 7 }, x[1].ToArray<int>());
        Assert.Equal(new Shape(3, 2), x[.., 1..3].Shape);
        Assert.Equal(new[] { 1, 2, 5, 6, 9, 10 }, x[.., 1..3].ToArray<int>());
        Assert.Equal(new[] { 8, 9, 10, 11 }, x[^1].ToArray<int>());
        Assert.Equal(11, x[^1, ^1].Item<int>());
        Assert.Equal(new[] { 3, 7, 11 }, x[.., -1].ToArray<int>());
    }

    [Fact]
    public void SteppedAndReversedSlices()
    {
        var v = Np.Arange(6);
        Assert.Equal(new[] { 0, 2, 4 }, v[TensorIndex.Slice(null, null, 2)].ToArray<int>());
        Assert.Equal(new[] { 5, 4, 3, 2, 1, 0 }, v[TensorIndex.Slice(null, null, -1)].ToArray<int>());
        Assert.Equal(new[] { 4, 2 }, v[TensorIndex.Slice(4, 0, -2)].ToArray<int>());
    }

    [Fact]
    public void NewAxisAndEllipsis()
    {
        var x = M();
        Assert.Equal(new Shape(3, 1, 4), x[.., TensorIndex.NewAxis].Shape);
        Assert.Equal(new[] { 2, 6, 10 }, x[TensorIndex.Ellipsis, 2].ToArray<int>());
    }

    [Fact]
    public void IntegerArrayIndexingGathers()
    {
        var x = M();
        var rows = x[new[] { 2, 0 }];
        Assert.Equal(new Shape(2, 4), rows.Shape);
        Assert.Equal(new[] { 8, 9, 10, 11, 0, 1, 2, 3 }, rows.ToArray<int>());
        var cols = x[.., new[] { 3, -4 }];
        Assert.Equal(new[] { 3, 0, 7, 4, 11, 8 }, cols.ToArray<int>());
        // Two index arrays broadcast together: x[[0, 2], [1, 3]] = [1, 11].
        Assert.Equal(new[] { 1, 11 }, x[new[] { 0, 2 }, new[] { 1, 3 }].ToArray<int>());
    }

    [Fact]
    public void OutOfRangeStaticIndexRaises()
    {
        var e = Assert.Throws<JxIndexError>(() => M()[3]);
        Assert.Contains("out of bounds for axis 0 with size 3", e.Message);
        Assert.Throws<JxIndexError>(() => M()[0, 0, 0]);
    }

    [Fact]
    public void AtUpdates()
    {
        var v = Np.Zeros([5]);
        Assert.Equal(new float[] { 0, 7, 0, 0, 0 }, v.At[1].Set(7f).ToArray<float>());
        Assert.Equal(new float[] { 2, 0, 0, 1, 0 }, v.At[new[] { 0, 0, 3 }].Add(1f).ToArray<float>());
        var m = M().AsType(DType.Float32);
        var r = m.At[.., 0].Multiply(10f);
        Assert.Equal(new float[] { 0, 1, 2, 3, 40, 5, 6, 7, 80, 9, 10, 11 }, r.ToArray<float>());
        Assert.Equal(new float[] { 0, 1, 2, 3, 4, 5 }, Np.Arange(6).AsType(DType.Float32).At[new[] { 9 }].Set(100f).ToArray<float>()); // dropped
        Assert.Equal(new float[] { 0, 1, 2, 2, 2 }, Np.Arange(5).AsType(DType.Float32).At[2..].Min(2f).ToArray<float>());
        Assert.Equal(new float[] { 3, 3, 2, 3, 4 }, Np.Arange(5).AsType(DType.Float32).At[..2].Max(3f).ToArray<float>());
        // The original is unchanged (immutability).
        Assert.Equal(new float[5], v.ToArray<float>());
    }

    [Fact]
    public void TakeAndTakeAlongAxis()
    {
        var x = Np.Array(new float[,] { { 10, 30, 20 }, { 60, 40, 50 } });
        Assert.Equal(new float[] { 20, 10 }, Np.Take(x, new[] { 2, 0 }, 1)[0].ToArray<float>());
        var t = Np.Take(Np.Array(new float[] { 1, 2, 3 }), new[] { 5 });
        Assert.True(float.IsNaN(t.ToArray<float>()[0])); // jnp.take's fill mode
        var idx = Np.Array(new int[,] { { 0 }, { 1 } });
        Assert.Equal(new float[] { 10, 40 }, Np.TakeAlongAxis(x, idx, 1).ToArray<float>());
        var order = Np.Array(new int[,] { { 0, 2, 1 }, { 1, 2, 0 } });
        Assert.Equal(new float[] { 10, 20, 30, 40, 50, 60 }, Np.TakeAlongAxis(x, order, 1).ToArray<float>());
    }
}
