using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>An iota under Jit is fused into the kernels that read it (the index is the value), not a library call that
/// fills an array on every call; under a map it cannot express affinely (a reshape) it gets a kernel of its own.</summary>
public class JitIotaFusionTests
{
    private static void AssertNoIotaCall(LoweredText lowered) =>
        Assert.DoesNotContain("library iota", lowered.FusionGroups);

    [Fact]
    public void OneHotCompareFusesTheIotaIntoOneKernel()
    {
        var y = Np.Array(new[] { 3, 0, 9, 5 });
        var f = Jit((Tensor labels) => Nn.OneHot(labels, 10));
        var got = f(y);
        Assert.Equal(Nn.OneHot(y, 10).ToArray<float>(), got.ToArray<float>());
        var lowered = f.Lower(y);
        AssertNoIotaCall(lowered);
        Assert.Equal(1, lowered.KernelCount);
        // Row i has its single 1 at column y[i].
        var rows = got.ToArray<float>();
        Assert.Equal(1f, rows[0 * 10 + 3]);
        Assert.Equal(1f, rows[2 * 10 + 9]);
        Assert.Equal(4f, rows.Sum());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void BroadcastedIotaAlongEachDimensionMatchesEager(int dimension)
    {
        var x = Np.Ones([3, 4, 5]);
        Tensor F(Tensor t) => t * Lax.BroadcastedIota(DType.Float32, new Shape(3, 4, 5), dimension) + 1f;
        var got = Jit((Func<Tensor, Tensor>)F)(x);
        Assert.Equal(F(x).ToArray<float>(), got.ToArray<float>());
        AssertNoIotaCall(Jit((Func<Tensor, Tensor>)F).Lower(x));
    }

    [Fact]
    public void IotaReadThroughATransposeAndABroadcast()
    {
        var x = Np.Ones([4, 3]);
        Tensor F(Tensor t) => t * Np.Transpose(Lax.BroadcastedIota(DType.Int32, new Shape(3, 4), 1)).AsType(DType.Float32)
                               + Lax.Iota(DType.Float32, 3).BroadcastTo(new Shape(4, 3));
        var got = Jit((Func<Tensor, Tensor>)F)(x).ToArray<float>();
        Assert.Equal(F(x).ToArray<float>(), got);
        // Element (i, j) = i + j.
        for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) Assert.Equal(i + j, got[i * 3 + j]);
    }

    [Fact]
    public void IotaUnderAReshapeIsMaterializedAndStillRight()
    {
        var x = Np.Ones([6, 2]);
        Tensor F(Tensor t) => t + Lax.BroadcastedIota(DType.Float32, new Shape(3, 4), 1).Reshape(6, 2);
        Assert.Equal(F(x).ToArray<float>(), Jit((Func<Tensor, Tensor>)F)(x).ToArray<float>());
    }

    [Fact]
    public void IotaAsTheProgramOutputAndReadTwice()
    {
        var x = Np.Ones([2, 5]);
        var f = Jit((Tensor t) => (Lax.BroadcastedIota(DType.Int32, new Shape(2, 5), 1), t * Lax.BroadcastedIota(DType.Float32, new Shape(2, 5), 1)));
        var (iota, scaled) = f(x);
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 0, 1, 2, 3, 4 }, iota.ToArray<int>());
        Assert.Equal(new[] { 0f, 1, 2, 3, 4, 0, 1, 2, 3, 4 }, scaled.ToArray<float>());
    }

    [Fact]
    public void ArgmaxStyleReductionOverAnIota()
    {
        // max over columns of (iota where x > 0.5 else -1): a reduction kernel that reads an iota.
        var x = Np.Array(new float[] { 0.1f, 0.9f, 0.7f, 0.2f, 0.6f, 0.1f }).Reshape(2, 3);
        Tensor F(Tensor t) => Np.Where(t > 0.5f, Lax.BroadcastedIota(DType.Float32, new Shape(2, 3), 1), Np.Full([2, 3], -1f)).Max(1);
        var got = Jit((Func<Tensor, Tensor>)F)(x).ToArray<float>();
        Assert.Equal(new[] { 2f, 1f }, got);
        Assert.Equal(F(x).ToArray<float>(), got);
    }

    [Fact]
    public void TwoIotasInOneReductionWithEqualStridesInABlock()
    {
        // A batched Tril summed over its matrices: the kept (batch) strides of the row and column iotas are equal.
        var x = Random.Normal(Random.Key(3), [2, 3, 3]);
        Tensor F(Tensor t) => Np.Tril(t).Sum([1, 2]);
        Assert.True(Np.AllClose(F(x), Jit((Func<Tensor, Tensor>)F)(x), 1e-6, 1e-6));
        Tensor G(Tensor t) => (t * Np.Eye(3)).Sum([1, 2]); // the trace of each matrix
        var trace = Jit((Func<Tensor, Tensor>)G)(x).ToArray<float>();
        var xs = x.ToArray<float>();
        for (int b = 0; b < 2; b++) Assert.Equal(xs[b * 9] + xs[b * 9 + 4] + xs[b * 9 + 8], trace[b], 5);
        AssertNoIotaCall(Jit((Func<Tensor, Tensor>)G).Lower(x));
    }

    [Theory]
    [InlineData(DType.Float16, 3000)] // float16 holds every integer only up to 2048
    [InlineData(DType.BFloat16, 600)] // bfloat16 only up to 256
    [InlineData(DType.Int64, 50)]
    [InlineData(DType.UInt32, 50)]
    [InlineData(DType.Float64, 50)]
    public void IotaOfEveryTypeMatchesEager(DType dtype, int n)
    {
        var x = Np.Zeros([n], dtype);
        // Subtracting the edge of the exact range shows whether the iota was rounded to its type before the arithmetic.
        double edge = dtype == DType.Float16 ? 2048 : dtype == DType.BFloat16 ? 256 : 0;
        Tensor F(Tensor t) => t + (Lax.Iota(dtype, n) - Np.Full([n], edge, dtype));
        var expected = F(x).AsType(DType.Float64).ToArray<double>();
        var got = Jit((Func<Tensor, Tensor>)F)(x).AsType(DType.Float64).ToArray<double>();
        Assert.Equal(expected, got);
        // Above the exact range, ties round to the even neighbour: 2049 → 2048 and 2051 → 2052 in float16, 257 → 256 and
        // 259 → 260 in bfloat16 (a kernel that skipped the rounding would give 1 and 3).
        if (dtype == DType.Float16) { Assert.Equal(0.0, got[2049]); Assert.Equal(4.0, got[2051]); }
        if (dtype == DType.BFloat16) { Assert.Equal(0.0, got[257]); Assert.Equal(4.0, got[259]); }
    }

    [Fact]
    public void IotaThroughASliceAndAReverse()
    {
        var x = Np.Zeros([4]);
        Tensor F(Tensor t) => t + Np.Flip(Lax.Iota(DType.Float32, 10)[3..7]);
        var got = Jit((Func<Tensor, Tensor>)F)(x).ToArray<float>();
        Assert.Equal(new[] { 6f, 5f, 4f, 3f }, got);
        Assert.Equal(F(x).ToArray<float>(), got);
    }

    [Theory]
    [InlineData(DType.Float32)]
    [InlineData(DType.Float64)]
    public void FloatIotasInVectorizedKernelsMatchEager(DType dtype)
    {
        // Rows of 100 elements: the generated loops run blocks of four vectors, single vectors and a scalar tail. The
        // iotas move along the vectorized dimension (dimension 1) or stay fixed across it (dimension 0), in an
        // elementwise kernel, a row reduction (vectorized along the reduced dimension) and a column reduction
        // (vectorized along the kept dimension).
        var x = Random.Normal(Random.Key(5), [6, 100]).AsType(dtype);
        var shape = new Shape(6, 100);
        Tensor I(int d) => Lax.BroadcastedIota(dtype, shape, d);
        var programs = new Func<Tensor, Tensor>[]
        {
            t => t * I(1) + I(0),
            t => (t * I(1) + I(0)).Sum(1),
            t => (t * I(1)).Sum(0),
            t => (t + I(0)).Sum(0),
        };
        foreach (var f in programs)
        {
            var expected = f(x).AsType(DType.Float64).ToArray<double>();
            var got = Jit(f)(x).AsType(DType.Float64).ToArray<double>();
            for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], got[i], Math.Abs(expected[i]) * 1e-5 + 1e-4);
            var lowered = Jit(f).Lower(x);
            AssertNoIotaCall(lowered);
            Assert.Contains("Vector512.Load", lowered.GeneratedCode); // the kernel is vectorized, iota included
        }
        Assert.Contains("Indices", Jit(programs[0]).Lower(x).GeneratedCode);
    }

    [Fact]
    public void FloatIotaLanesPastTwoToThe24MatchEager()
    {
        // Above 2^24 float32 cannot hold every integer: each index must be rounded once, as eager iota rounds it.
        // The rows start at an odd index past 2^24, which float32 cannot hold: a float base plus lane numbers would
        // round twice (2^24 + 1 → 2^24, then + 1 → 2^24 again, where the index 2^24 + 2 is exact).
        int n = (1 << 24) + 49;
        Tensor F(Tensor t) => t + Lax.Iota(DType.Float32, n)[((1 << 24) + 1)..];
        var x = Np.Zeros([48]);
        Assert.Equal(F(x).ToArray<float>(), Jit((Func<Tensor, Tensor>)F)(x).ToArray<float>());
    }

    [Fact]
    public void IotasReadWithAStepOrReversedInLongRows()
    {
        // Inner strides 2 and −1 are not contiguous: such kernels run the scalar loop, with exact values.
        var x = Np.Zeros([50]);
        Tensor Stepped(Tensor t) => t + Lax.Slice(Lax.Iota(DType.Float32, 100), [0], [100], [2]);
        Tensor Reversed(Tensor t) => t + Np.Flip(Lax.Iota(DType.Float32, 50));
        var stepped = Jit((Func<Tensor, Tensor>)Stepped)(x).ToArray<float>();
        var reversed = Jit((Func<Tensor, Tensor>)Reversed)(x).ToArray<float>();
        Assert.Equal(Enumerable.Range(0, 50).Select(i => 2f * i), stepped);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => 49f - i), reversed);
        Assert.Equal(Stepped(x).ToArray<float>(), stepped);
        Assert.Equal(Reversed(x).ToArray<float>(), reversed);
    }
}
