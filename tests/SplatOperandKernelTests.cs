namespace Jx.Tests;

/// <summary>Comparison and select kernels read splat operands (broadcast scalars) without expanding them; every output
/// element must still be written.</summary>
public class SplatOperandKernelTests
{
    [Fact]
    public void ComparisonsWithSplatSidesWriteEveryElement()
    {
        var x = Np.Array(new float[] { -2, 0, 3, -0f, float.NaN, 7, 1, -1, 5, 0.5f, 2, -3, 4, 6, -6, 9, 10, -10, 0 });
        var zeros = Np.Zeros(x.Shape);
        Assert.Equal(x.ToArray<float>().Select(v => v > 0).ToArray(), Lax.Gt(x, zeros).ToArray<bool>());
        Assert.Equal(x.ToArray<float>().Select(v => 0 < v).ToArray(), Lax.Lt(zeros, x).ToArray<bool>());
        // Both sides splats: the one answer fills the whole result.
        Assert.Equal(Enumerable.Repeat(true, 19), Lax.Lt(zeros, Np.Ones(x.Shape)).ToArray<bool>());
        Assert.Equal(Enumerable.Repeat(false, 0), Lax.Eq(Np.Zeros([0]), Np.Ones([0])).ToArray<bool>());
    }

    [Fact]
    public void SelectWithSplatCasesAndARealPredicateMatchesTheLoop()
    {
        // 37 elements: two full 16-lane vectors and a tail of 5.
        var v = Enumerable.Range(0, 37).Select(i => (float)Math.Sin(i * 1.7) * 3).ToArray();
        var x = Np.Array(v);
        var pred = Lax.Gt(x, Np.Zeros(x.Shape));
        var picked = Lax.Select(pred, x, Np.Zeros(x.Shape)).ToArray<float>();
        Assert.Equal(v.Select(a => a > 0 ? a : 0f).ToArray(), picked);
        var other = Lax.Select(pred, Np.Full(x.Shape, -1f), x).ToArray<float>();
        Assert.Equal(v.Select(a => a > 0 ? -1f : a).ToArray(), other);
        var d = Lax.Select(pred.Reshape([37]), x.AsType(DType.Float64), Np.Zeros([37], DType.Float64)).ToArray<double>();
        Assert.Equal(v.Select(a => a > 0 ? (double)a : 0.0).ToArray(), d);
    }

    [Fact]
    public void EmptySelectsAndComparisonsReturnEmptyResults()
    {
        var e = Np.Zeros([0, 3]);
        var x = Np.Ones([0, 3]) * 2f;
        Assert.Equal([0, 3], Lax.Select(Lax.Gt(x, e), x, e).Shape.ToArray());
        Assert.Equal([0, 3], Lax.Select(Lax.Lt(x, Np.Array(new float[0]).Reshape([0, 3])), x, e).Shape.ToArray());
        Assert.Empty(Lax.Select(Lax.Gt(x, e), x, e).ToArray<float>());
    }
}
