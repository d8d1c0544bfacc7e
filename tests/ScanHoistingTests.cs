using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>A scan body's products that depend only on the xs (and constants) run once before the loop, batched over the
/// steps, and accumulators become one product after the loop; results are unchanged, forward and reverse, under Grad,
/// and products of the carry stay in the loop. (The option is off by default; these tests turn it on.)</summary>
[Collection("JitCache")] // toggles a global option: not in parallel with other Jit tests
public class ScanHoistingTests : IDisposable
{
    private readonly bool _previous = JitOptions.HoistScanLoops;
    public ScanHoistingTests() => JitOptions.HoistScanLoops = true;
    public void Dispose() => JitOptions.HoistScanLoops = _previous;

    private static readonly Tensor Wx = Random.Normal(Random.Key(1), [5, 3]) * 0.4f;
    private static readonly Tensor Wh = Random.Normal(Random.Key(2), [3, 3]) * 0.4f;
    private static readonly Tensor Xs = Random.Normal(Random.Key(3), [7, 2, 5]);
    private static readonly Tensor H0 = Random.Normal(Random.Key(4), [2, 3]);

    private static (Tensor, Tensor) Rnn(Tensor h0, Tensor xs, bool reverse) =>
        Lax.Scan((Tensor h, Tensor x) =>
        {
            var n = Np.Tanh(x.Matmul(Wx) + h.Matmul(Wh));
            return (n, Np.Exp(x.Matmul(Wx)).Sum() + n.Sum());
        }, h0, xs, reverse: reverse);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void XsProjectionRunsBeforeTheLoopAndResultsMatchEager(bool reverse)
    {
        var jf = Jit((Tensor h, Tensor xs) => Rnn(h, xs, reverse));
        var lowered = jf.Lower(H0, Xs).FusionGroups;
        var loopAt = lowered.IndexOf("loop scan", StringComparison.Ordinal);
        var productAt = lowered.IndexOf("library dot_general", StringComparison.Ordinal);
        Assert.True(productAt >= 0 && productAt < loopAt, "the xs projection is a product before the loop:\n" + lowered);
        Assert.Contains("f32[7,2,3]", lowered[..loopAt]); // batched over all 7 steps
        var (hj, yj) = jf(H0, Xs);
        var (he, ye) = Rnn(H0, Xs, reverse);
        Assert.True(Np.AllClose(hj, he, 1e-5, 1e-6));
        Assert.True(Np.AllClose(yj, ye, 1e-5, 1e-5));
    }

    [Fact]
    public void GradientsThroughAHoistedScanMatchEager()
    {
        Func<Tensor, Tensor, Tensor> loss = (h, xs) => { var (hT, ys) = Rnn(h, xs, false); return hT.Sum() + ys.Sum(); };
        var gj = Jit(Grad<Tensor, Tensor>(loss))(H0, Xs);
        var ge = Grad<Tensor, Tensor>(loss)(H0, Xs);
        Assert.True(Np.AllClose(gj, ge, 1e-5, 1e-5));
    }

    [Fact]
    public void WeightGradientAccumulatorsBecomeOneProductAfterTheLoop()
    {
        Func<(Tensor Wx, Tensor Wh, Tensor B), Tensor, Tensor> loss = (p, xs) =>
        {
            var (_, ys) = Lax.Scan((Tensor h, Tensor x) =>
            {
                var n = Np.Tanh(x.Matmul(p.Wx) + h.Matmul(p.Wh) + p.B);
                return (n, n.Mean());
            }, H0, xs);
            return ys.Sum();
        };
        var b = Np.Full([3], 0.1f);
        var vg = Jit(ValueAndGrad<(Tensor Wx, Tensor Wh, Tensor B), Tensor>(loss));
        var lowered = vg.Lower((Wx, Wh, b), Xs).FusionGroups;
        var lastLoop = lowered.LastIndexOf("loop scan", StringComparison.Ordinal);
        // Σ_t x_tᵀ·δ_t and Σ_t h_{t-1}ᵀ·δ_t: products contracting the step and batch axes, after the backward loop.
        Assert.True(lowered.IndexOf("(((0, 1), (0, 1))", lastLoop, StringComparison.Ordinal) > lastLoop, lowered);
        var (lj, gj) = vg((Wx, Wh, b), Xs);
        var (le, ge) = ValueAndGrad<(Tensor Wx, Tensor Wh, Tensor B), Tensor>(loss)((Wx, Wh, b), Xs);
        Assert.True(Np.AllClose(lj, le, 1e-5, 1e-5));
        Assert.True(Np.AllClose(gj.Wx, ge.Wx, 1e-4, 1e-5));
        Assert.True(Np.AllClose(gj.Wh, ge.Wh, 1e-4, 1e-5));
        Assert.True(Np.AllClose(gj.B, ge.B, 1e-4, 1e-5));
    }

    [Fact]
    public void ProductsOfTheCarryStayInTheLoop()
    {
        // Nothing here depends on the xs alone: no product may move before the loop.
        Func<Tensor, Tensor, Tensor> f = (h0, xs) => Lax.Scan((Tensor h, Tensor x) => (Np.Tanh((h + x.Sum()).Matmul(Wh)), h.Sum()), h0, xs).Item1;
        var jf = Jit(f);
        var lowered = jf.Lower(H0, Xs).FusionGroups;
        Assert.DoesNotContain("library dot_general", lowered[..lowered.IndexOf("loop scan", StringComparison.Ordinal)]);
        Assert.True(Np.AllClose(jf(H0, Xs), f(H0, Xs), 1e-5, 1e-6));
    }
}
