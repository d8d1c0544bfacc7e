namespace Jx.Tests;

/// <summary>NumPy broadcasting over every pair of the shapes JAX's own tests use, checked against a hand-written loop.</summary>
public class BroadcastingTests
{
    public static readonly int[][] Shapes = [[], [3], [3, 4], [3, 1], [1, 4], [2, 3, 4], [2, 1, 4]];

    public static IEnumerable<object[]> Pairs()
    {
        for (int i = 0; i < Shapes.Length; i++)
            for (int j = 0; j < Shapes.Length; j++)
                yield return [i, j];
    }

    /// <summary>The broadcast shape by the NumPy rule, written independently of Jx; null when incompatible.</summary>
    private static int[]? Expected(int[] a, int[] b)
    {
        int rank = Math.Max(a.Length, b.Length);
        var r = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : 1;
            int db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : 1;
            if (da != db && da != 1 && db != 1) return null;
            r[i] = Math.Max(da, db);
        }
        return r;
    }

    /// <summary>The flat index into an operand of shape s for the output multi-index idx (size-1 dims repeat).</summary>
    private static int Source(int[] s, int[] idx)
    {
        int off = 0, lead = idx.Length - s.Length;
        for (int k = 0; k < s.Length; k++) off = off * s[k] + (s[k] == 1 ? 0 : idx[lead + k]);
        return off;
    }

    private static int[] Unravel(int flat, int[] shape)
    {
        var idx = new int[shape.Length];
        for (int k = shape.Length - 1; k >= 0; k--) { idx[k] = flat % shape[k]; flat /= shape[k]; }
        return idx;
    }

    private static float[] Values(int[] shape, float scale, float offset) =>
        Enumerable.Range(0, shape.Aggregate(1, (x, y) => x * y)).Select(i => i * scale + offset).ToArray();

    [Theory]
    [MemberData(nameof(Pairs))]
    public void AddBroadcastsLikeNumPy(int i, int j)
    {
        var (sa, sb) = (Shapes[i], Shapes[j]);
        var av = Values(sa, 1, 1);
        var bv = Values(sb, 100, 0);
        var a = Tensor.FromArray(av, new Shape(sa));
        var b = Tensor.FromArray(bv, new Shape(sb));
        var expected = Expected(sa, sb);
        if (expected is null)
        {
            var e = Assert.Throws<ShapeError>(() => a + b);
            Assert.Contains("Np.Add", e.Message);
            Assert.Contains(new Shape(sa).ToString(), e.Message);
            Assert.Contains(new Shape(sb).ToString(), e.Message);
            Assert.Throws<ShapeError>(() => Np.BroadcastShapes(new Shape(sa), new Shape(sb)));
            return;
        }
        var y = a + b;
        Assert.Equal(expected, y.Shape.ToArray());
        Assert.Equal(new Shape(expected), Np.BroadcastShapes(new Shape(sa), new Shape(sb)));
        var got = y.ToArray<float>();
        for (int f = 0; f < got.Length; f++)
        {
            var idx = Unravel(f, expected);
            Assert.Equal(av[Source(sa, idx)] + bv[Source(sb, idx)], got[f]);
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public void MultiplyMixedDTypesBroadcasts(int i, int j)
    {
        var (sa, sb) = (Shapes[i], Shapes[j]);
        var expected = Expected(sa, sb);
        if (expected is null) return;
        var ai = Enumerable.Range(0, new Shape(sa).Size).Select(k => k - 2).ToArray();
        var bf = Values(sb, 0.5f, 0.25f);
        var y = Tensor.FromArray(ai, new Shape(sa)) * Tensor.FromArray(bf, new Shape(sb));
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(expected, y.Shape.ToArray());
        var got = y.ToArray<float>();
        for (int f = 0; f < got.Length; f++)
        {
            var idx = Unravel(f, expected);
            Assert.Equal(ai[Source(sa, idx)] * bf[Source(sb, idx)], got[f]);
        }
    }

    [Fact]
    public void TheErrorNamesBothShapesAndTheAxis()
    {
        var e = Assert.Throws<ShapeError>(() => Np.Multiply(Np.Zeros([2, 3]), Np.Zeros([4])));
        Assert.StartsWith("Np.Multiply got incompatible shapes for broadcasting: (2, 3), (4,) (axis -1: 3 vs 4)", e.Message);
        var w = Assert.Throws<ShapeError>(() => Np.Where(Np.Ones([2], DType.Bool), Np.Zeros([3]), 1f));
        Assert.Contains("Np.Where", w.Message);
        Assert.Contains("(2,), (3,)", w.Message);
    }

    [Fact]
    public void ZeroSizedDimensions()
    {
        Assert.Equal(new Shape(0), Np.BroadcastShapes(new Shape(0), new Shape(1)));
        Assert.Equal(new Shape(2, 0), Np.BroadcastShapes(new Shape(2, 1), new Shape(0)));
        Assert.Throws<ShapeError>(() => Np.BroadcastShapes(new Shape(0), new Shape(3)));
        Assert.Equal(new Shape(2, 0), (Np.Zeros([2, 1]) + Np.Zeros([0])).Shape);
    }

    [Fact]
    public void BroadcastToAndBroadcastArrays()
    {
        var x = Np.Array(new[] { 1, 2, 3 });
        var b = Np.BroadcastTo(x, [2, 3]);
        Assert.Equal(new[] { 1, 2, 3, 1, 2, 3 }, b.ToArray<int>());
        var col = Np.Array(new[,] { { 1 }, { 2 } });
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 2 }, col.BroadcastTo([2, 3]).ToArray<int>());
        var e = Assert.Throws<ShapeError>(() => Np.BroadcastTo(x, [3, 2]));
        Assert.Contains("(3,)", e.Message);
        Assert.Contains("(3, 2)", e.Message);
        Assert.Throws<ShapeError>(() => Np.BroadcastTo(Np.Zeros([2, 3]), [3]));
        var arrs = Np.BroadcastArrays(x, col, Tensor.Scalar(5));
        Assert.All(arrs, t => Assert.Equal(new Shape(2, 3), t.Shape));
        Assert.Equal(Enumerable.Repeat(5, 6).ToArray(), arrs[2].ToArray<int>());
    }

    [Fact]
    public void WhereBroadcastsThreeOperands()
    {
        var c = Np.Array(new[,] { { true }, { false } });
        var y = Np.Where(c, Np.Array(new[] { 1f, 2f, 3f }), -1);
        Assert.Equal(new Shape(2, 3), y.Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, -1f, -1f, -1f }, y.ToArray<float>());
    }

    [Fact]
    public void ComparisonsBroadcastToBool()
    {
        var y = Np.Array(new[] { 1, 5, 3 }) > Np.Array(new[,] { { 2 }, { 4 } });
        Assert.Equal(DType.Bool, y.DType);
        Assert.Equal(new Shape(2, 3), y.Shape);
        Assert.Equal(new[] { false, true, true, false, true, false }, y.ToArray<bool>());
    }
}
