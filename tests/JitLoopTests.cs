using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Scans and while loops inside compiled programs run as loop steps around their compiled bodies, with reused
/// carry buffers.</summary>
public class JitLoopTests
{
    private static readonly Tensor Xs = Np.Arange(24).Reshape([6, 4]).AsType(DType.Float32) * 0.25f;

    [Fact]
    public void TheLoweredProgramHasALoopStepAndMatchesEager()
    {
        Func<Tensor, Tensor, (Tensor, Tensor)> f = (h0, xs) =>
            Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(h * 0.5f + x); return (n, n.Sum()); }, h0, xs);
        var jf = Jit(f);
        var h0 = Np.Ones([4]);
        Assert.Contains("loop scan length=6", jf.Lower(h0, Xs).FusionGroups);
        var (hj, yj) = jf(h0, Xs);
        var (he, ye) = f(h0, Xs);
        Assert.True(Np.AllClose(hj, he, 1e-6, 1e-6));
        Assert.True(Np.AllClose(yj, ye, 1e-6, 1e-6));
        Assert.Equal([6], yj.Shape.ToArray());
    }

    [Fact]
    public void ACarryPassedThroughFromAnOlderIterationIsNotOverwrittenByBufferReuse()
    {
        // (a, b) → (b, a + x): the new a is the previous iteration's b, a buffer the next iteration reuses.
        Func<Tensor, Tensor, Tensor, (Tensor, Tensor, Tensor)> f = (a0, b0, xs) =>
        {
            var ((a, b), ys) = Lax.Scan(((Tensor A, Tensor B) c, Tensor x) => ((c.B, c.A * 2f + x), c.A - c.B), (a0, b0), xs);
            return (a, b, ys);
        };
        var a0 = Np.Array(new float[] { 1, 2, 3, 4 });
        var b0 = Np.Array(new float[] { -1, 0, 1, 2 });
        var (aj, bj, yj) = Jit(f)(a0, b0, Xs);
        // The same recurrence by hand.
        var a = new float[] { 1, 2, 3, 4 }; var b = new float[] { -1, 0, 1, 2 };
        var xs = Xs.ToArray<float>();
        var ys = new float[24];
        for (int i = 0; i < 6; i++)
        {
            var na = (float[])b.Clone();
            var nb = new float[4];
            for (int j = 0; j < 4; j++) { ys[i * 4 + j] = a[j] - b[j]; nb[j] = a[j] * 2f + xs[i * 4 + j]; }
            a = na; b = nb;
        }
        Assert.Equal(a, aj.ToArray<float>());
        Assert.Equal(b, bj.ToArray<float>());
        Assert.Equal(ys, yj.ToArray<float>());
    }

    [Fact]
    public void RowsOfXsPassedThroughAsTheCarryOrAsYsStayIntact()
    {
        // The rows a scan hands its body live in reused buffers; a row that becomes the carry (read by the next
        // iteration, and by the one after through the ys) or a y must keep its values.
        (Tensor, Tensor, Tensor) Passing(Tensor c0, Tensor xs, bool reverse, int unroll)
        {
            var ((a, b), ys) = Lax.Scan(((Tensor A, Tensor B) c, Tensor x) => ((x, c.A), (c.B, x * 1f)), (c0, c0), xs, reverse: reverse, unroll: unroll);
            return (a, b, ys.Item1 + ys.Item2 * 100f);
        }
        Func<Tensor, Tensor, (Tensor, Tensor, Tensor)> f = (c0, xs) => Passing(c0, xs, false, 1);
        var c0 = Np.Full([4], -1f);
        // Forward and reverse, one step per iteration and unrolled (2 and 4 steps per iteration, with a remainder).
        foreach (var reverse in new[] { false, true })
            foreach (var unroll in new[] { 1, 2, 4 })
            {
                var (aj, bj, yj) = Jit((Tensor c, Tensor xs) => Passing(c, xs, reverse, unroll))(c0, Xs);
                var (ae, be, ye) = Passing(c0, Xs, reverse, 1);
                Assert.Equal(ae.ToArray<float>(), aj.ToArray<float>());
                Assert.Equal(be.ToArray<float>(), bj.ToArray<float>());
                Assert.Equal(ye.ToArray<float>(), yj.ToArray<float>());
            }
        // By hand: the final carry is (x_5, x_4); ys row i is (b_i, x_i) with b_i = x_{i-2} (−1 for i < 2).
        var (a5, b5, y) = Jit(f)(c0, Xs);
        Assert.Equal(Xs[5].ToArray<float>(), a5.ToArray<float>());
        Assert.Equal(Xs[4].ToArray<float>(), b5.ToArray<float>());
        Assert.Equal((Xs[3] + Xs[5] * 100f).ToArray<float>(), y[5].ToArray<float>());
        Assert.Equal((Np.Full([4], -1f) + Xs[1] * 100f).ToArray<float>(), y[1].ToArray<float>());
    }

    private static (Tensor, Tensor) Elman(Tensor h0, Tensor w, Tensor xs, bool reverse, int unroll) =>
        Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(h.Matmul(w) + x); return (n, n.Sum() * 0.5f); }, h0, xs, reverse: reverse, unroll: unroll);

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AnUnrolledScanRunsUStepsPerCompiledIterationAndMatchesEager(bool reverse)
    {
        // Length 7, unroll 3: two iterations of the body repeated three times, then one plain step.
        var w = Random.Normal(Random.Key(1), [4, 4]) * 0.4f;
        var xs = Random.Normal(Random.Key(2), [7, 2, 4]);
        var h0 = Random.Normal(Random.Key(3), [2, 4]);
        var jf = Jit((Tensor h, Tensor q, Tensor s) => Elman(h, q, s, reverse, 3));
        Assert.Contains("unrolled ×3", jf.Lower(h0, w, xs).FusionGroups);
        Assert.Contains("unroll=3", Jax.MakeJaxpr((Tensor h, Tensor q, Tensor s) => Elman(h, q, s, reverse, 3))(h0, w, xs).ToString());
        var (hj, yj) = jf(h0, w, xs);
        var (he, ye) = Elman(h0, w, xs, reverse, 1);
        Assert.True(Np.AllClose(hj, he, 1e-6, 1e-6));
        Assert.True(Np.AllClose(yj, ye, 1e-6, 1e-6));
    }

    [Fact]
    public void GradientsKeepTheUnrollAndMatchEager()
    {
        var w = Random.Normal(Random.Key(4), [4, 4]) * 0.4f;
        var xs = Random.Normal(Random.Key(5), [5, 2, 4]);
        var h0 = Np.Zeros([2, 4]);
        Func<Tensor, Tensor, Tensor> loss = (q, s) => { var (h, ys) = Elman(h0, q, s, false, 2); return h.Sum() + ys.Sum(); };
        var text = Jax.MakeJaxpr(Grad<Tensor, Tensor>(loss))(w, xs).ToString();
        // The forward (jvp, partially evaluated) scan and the transposed backward scan both keep unroll=2.
        Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(text, "unroll=2").Count);
        var gj = Jit(Grad<Tensor, Tensor>(loss))(w, xs);
        var ge = Grad<Tensor, Tensor>((q, s) => { var (h, ys) = Elman(h0, q, s, false, 1); return h.Sum() + ys.Sum(); })(w, xs);
        Assert.True(Np.AllClose(gj, ge, 1e-5, 1e-6));
        // Batching keeps it too.
        var batched = Jax.MakeJaxpr(Vmap((Tensor s) => Elman(h0, w, s, false, 2).Item1))(Np.Stack([xs, xs * 2f])).ToString();
        Assert.Contains("unroll=2", batched);
    }

    [Fact]
    public void UnrollTrueUnrollsTheWholeLoopAndANonPositiveUnrollIsAnError()
    {
        Func<Tensor, (Tensor, Tensor)> f = xs => Lax.Scan((Tensor c, Tensor x) => (c * 0.5f + x, c), Np.Zeros([4]), xs, unroll: true);
        Assert.Contains("unroll=6", Jax.MakeJaxpr(f)(Xs).ToString());
        var (cj, yj) = Jit(f)(Xs);
        var (ce, ye) = f(Xs);
        Assert.True(Np.AllClose(cj, ce, 1e-6, 1e-6));
        Assert.True(Np.AllClose(yj, ye, 1e-6, 1e-6));
        var e = Assert.Throws<InvalidArgumentError>(() => Lax.Scan((Tensor c, Tensor x) => (c + x, c), Np.Zeros([4]), Xs, unroll: 0));
        Assert.Contains("positive int", e.Message);
    }

    [Fact]
    public void ReverseZeroLengthSplatAndNestedScansMatchEager()
    {
        Func<Tensor, Tensor, (Tensor, Tensor)> rev = (c0, xs) => Lax.Scan((Tensor c, Tensor x) => (c + x, c * x), c0, xs, reverse: true);
        var c0 = Np.Full([4], 0.5f);
        var (cr, yr) = Jit(rev)(c0, Xs);
        var (ce, ye) = rev(c0, Xs);
        Assert.Equal(ce.ToArray<float>(), cr.ToArray<float>());
        Assert.Equal(ye.ToArray<float>(), yr.ToArray<float>());

        var empty = Np.Zeros([0, 4]);
        var (c0j, y0j) = Jit(rev)(c0, empty);
        Assert.Equal(c0.ToArray<float>(), c0j.ToArray<float>());
        Assert.Equal([0, 4], y0j.Shape.ToArray());

        // Splat xs (zeros) and a splat y (a constant per step).
        Func<Tensor, Tensor, (Tensor, Tensor)> withConst = (c, xs) => Lax.Scan((Tensor cc, Tensor x) => (cc + x + 1f, Np.OnesLike(x)), c, xs);
        var (cs, ys) = Jit(withConst)(c0, Np.Zeros([5, 4]));
        Assert.Equal(Enumerable.Repeat(5.5f, 4), cs.ToArray<float>());
        Assert.Equal(Enumerable.Repeat(1f, 20), ys.ToArray<float>());

        Func<Tensor, Tensor> nested = xs => Lax.Scan((Tensor c, Tensor row) =>
            (c + Lax.Scan((Tensor d, Tensor v) => (d * 0.5f + v, d), Tensor.Scalar(0f), row).Carry, c), Tensor.Scalar(1f), xs).Carry;
        Assert.Equal(nested(Xs).Item<float>(), Jit(nested)(Xs).Item<float>(), 5);
    }

    [Fact]
    public void GradientOfAJittedScanMatchesEager()
    {
        Func<Tensor, Tensor> loss = w => Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(h * w + x); return (n, n.Sum()); }, Np.Zeros([4]), Xs).Ys.Sum();
        var w0 = Tensor.Scalar(0.7f);
        Assert.Equal(Grad(loss)(w0).Item<float>(), Jit(Grad(loss))(w0).Item<float>(), 4);
    }

    [Fact]
    public void WhileLoopsRunAsALoopStepWithSwappedCarriesIntact()
    {
        // (i, a, b, s) → (i + 1, b, 2a + b, s + Σa): a is passed through from an older iteration, and Σa reads it after the
        // kernel for 2a + b has run — which would overwrite it if the passthrough shared a reused buffer.
        Func<Tensor, Tensor, (Tensor, Tensor, Tensor)> f = (a0, b0) =>
        {
            var (_, a, b, sum) = Lax.WhileLoop(((Tensor I, Tensor A, Tensor B, Tensor S) c) => c.I < 7,
                c => (c.I + 1, c.B, c.A * 2f + c.B, c.S + c.A.Sum()), (I: Tensor.Scalar(0), A: a0, B: b0, S: Tensor.Scalar(0f)));
            return (a, b, sum);
        };
        var a0 = Np.Array(new float[] { 1, -2, 0.5f });
        var b0 = Np.Array(new float[] { 0.25f, 3, -1 });
        var jf = Jit(f);
        Assert.Contains("loop while", jf.Lower(a0, b0).FusionGroups);
        var (aj, bj, sj) = jf(a0, b0);
        var (ae, be, se) = f(a0, b0);
        Assert.Equal(ae.ToArray<float>(), aj.ToArray<float>());
        Assert.Equal(be.ToArray<float>(), bj.ToArray<float>());
        Assert.Equal(se.Item<float>(), sj.Item<float>());
        // A loop that never runs returns its initial carry.
        Func<Tensor, Tensor> never = x => Lax.WhileLoop((Tensor c) => c.Sum() < -100f, c => c * 2f, x);
        Assert.Equal(a0.ToArray<float>(), Jit(never)(a0).ToArray<float>());
        // ForiLoop with traced bounds is a while loop.
        Func<Tensor, Tensor, Tensor> fori = (n, x) => Lax.ForiLoop(Tensor.Scalar(0), n, (i, c) => c * 0.5f + i.AsType(DType.Float32), x);
        Assert.Equal(fori(Tensor.Scalar(5), a0).ToArray<float>(), Jit(fori)(Tensor.Scalar(5), a0).ToArray<float>());
    }
}
