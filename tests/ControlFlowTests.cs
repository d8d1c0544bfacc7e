using static Jx.Transforms;

namespace Jx.Tests;

public class ControlFlowTests
{
    [Fact]
    public void ForiLoopValueAndGradient()
    {
        Func<Tensor, Tensor> f = x => Lax.ForiLoop(0, 3, (i, c) => c * x, Tensor.Scalar(1f));
        Assert.Equal(8f, f(Tensor.Scalar(2f)).Item<float>());
        Assert.Equal(12f, Grad(f)(Tensor.Scalar(2f)).Item<float>());
        Assert.Equal(12f, Jit(Grad(f))(Tensor.Scalar(2f)).Item<float>());
    }

    [Fact]
    public void ScanCarryAndGradients()
    {
        var xs = Np.Array(new float[] { 1, 2, 3 });
        Func<Tensor, Tensor, Tensor> last = (init, seq) => Lax.Scan((Tensor c, Tensor x) => (c * x, c), init, seq).Carry;
        Assert.Equal(6f, last(Tensor.Scalar(1f), xs).Item<float>());
        Assert.Equal(6f, Grad(last)(Tensor.Scalar(1f), xs).Item<float>());
        var dxs = (Tensor)Grad(last, argnums: [1])(Tensor.Scalar(1f), xs)[0]!;
        Assert.Equal(new float[] { 6, 3, 2 }, dxs.ToArray<float>());
        var (c2, ys) = Lax.Scan((Tensor c, Tensor x) => (c * x, c), Tensor.Scalar(1f), xs);
        Assert.Equal(new float[] { 1, 1, 2 }, ys.ToArray<float>());
        Assert.Equal(6f, c2.Item<float>());
    }

    [Fact]
    public void ScanMatchesTheUnrolledLoopUnderJitGradAndVmap()
    {
        var w = Np.Array(new double[,] { { 0.5, -0.3 }, { 0.2, 0.8 } });
        var xs = Np.Array(new double[,] { { 0.1, 0.2 }, { -0.4, 0.3 }, { 0.5, -0.1 }, { 0.0, 0.7 } });
        Func<Tensor, Tensor, Tensor> viaScan = (wt, seq) =>
        {
            var (h, ys) = Lax.Scan((Tensor hh, Tensor x) => { var n = Np.Tanh(hh.Matmul(wt) + x); return (n, n.Sum()); }, Np.Zeros([2], DType.Float64), seq);
            return h.Sum() + ys.Sum();
        };
        Func<Tensor, Tensor, Tensor> unrolled = (wt, seq) =>
        {
            var h = Np.Zeros([2], DType.Float64);
            Tensor acc = Tensor.Scalar(0.0);
            for (int i = 0; i < seq.Shape[0]; i++) { h = Np.Tanh(h.Matmul(wt) + seq[i]); acc = acc + h.Sum(); }
            return h.Sum() + acc;
        };
        Assert.Equal(unrolled(w, xs).Item<double>(), viaScan(w, xs).Item<double>(), 12);
        Assert.Equal(unrolled(w, xs).Item<double>(), Jit(viaScan)(w, xs).Item<double>(), 12);
        Assert.True(Np.AllClose(Grad(viaScan)(w, xs), Grad(unrolled)(w, xs), 1e-12, 1e-12));
        Assert.True(Np.AllClose(Jit(Grad(viaScan))(w, xs), Grad(unrolled)(w, xs), 1e-12, 1e-12));
        var batch = Np.Stack([xs, xs * 2, -xs]);
        var vm = Vmap(viaScan, inAxes: [null, 0])(w, batch);
        for (int b = 0; b < 3; b++) Assert.Equal(unrolled(w, batch[b]).Item<double>(), vm[b].Item<double>(), 12);
        CheckGrads(((Tensor W, Tensor X) a) => viaScan(a.W, a.X), (w, xs), order: 2);
    }

    [Fact]
    public void ReverseScan()
    {
        var xs = Np.Array(new float[] { 1, 2, 3 });
        var (c, ys) = Lax.Scan((Tensor acc, Tensor x) => (acc + x, acc), Tensor.Scalar(0f), xs, reverse: true);
        Assert.Equal(6f, c.Item<float>());
        Assert.Equal(new float[] { 5, 3, 0 }, ys.ToArray<float>());
    }

    [Fact]
    public void CondTakesTheRightBranchEverywhere()
    {
        Func<Tensor, Tensor> f = x => Lax.Cond(x.Sum() > 0f, v => v * 2f, v => Np.Sin(v), x);
        var pos = Np.Array(new float[] { 1, 2 });
        var neg = Np.Array(new float[] { -1, -2 });
        Assert.Equal(new float[] { 2, 4 }, f(pos).ToArray<float>());
        Assert.True(Np.AllClose(f(neg), Np.Sin(neg)));
        Assert.Equal(new float[] { 2, 4 }, Jit(f)(pos).ToArray<float>());
        Assert.True(Np.AllClose(Jit(f)(neg), Np.Sin(neg)));
        var batched = Vmap(f)(Np.Stack([pos, neg]));
        Assert.True(Np.AllClose(batched, Np.Stack([pos * 2f, Np.Sin(neg)])));
        Assert.Equal(new float[] { 2, 2 }, Grad((Tensor x) => f(x).Sum())(pos).ToArray<float>());
        Assert.True(Np.AllClose(Grad((Tensor x) => f(x).Sum())(neg), Np.Cos(neg)));
        Assert.True(Np.AllClose(Jit(Grad((Tensor x) => f(x).Sum()))(neg), Np.Cos(neg)));
        Assert.Contains("cond[branches=", Jax.MakeJaxpr(f)(pos).ToString());
    }

    [Fact]
    public void SwitchClampsTheIndex()
    {
        Func<Tensor, Tensor>[] branches = [v => v + 1f, v => v * 10f, v => -v];
        var x = Np.Array(new float[] { 1, 2 });
        Assert.Equal(new float[] { 2, 3 }, Lax.Switch(Tensor.Scalar(-5), branches, x).ToArray<float>());
        Assert.Equal(new float[] { 10, 20 }, Lax.Switch(Tensor.Scalar(1), branches, x).ToArray<float>());
        Assert.Equal(new float[] { -1, -2 }, Lax.Switch(Tensor.Scalar(7), branches, x).ToArray<float>());
    }

    [Fact]
    public void WhileLoopRunsForwardModeAndRefusesReverseMode()
    {
        Func<Tensor, Tensor> f = x => Lax.WhileLoop((Tensor c) => c < 100f, c => c * x, Tensor.Scalar(1f));
        Assert.Equal(243f, f(Tensor.Scalar(3f)).Item<float>());
        var (y, t) = Jvp(f, Tensor.Scalar(3.0), Tensor.Scalar(1.0));
        Assert.Equal(243.0, y.Item<double>());
        Assert.Equal(5 * 81.0, t.Item<double>(), 9);
        var e = Assert.Throws<NotDifferentiableError>(() => Grad(f)(Tensor.Scalar(3.0)));
        Assert.Contains("Reverse-mode differentiation does not work for lax.while_loop", e.Message);
        var g = Lax.ForiLoop(Tensor.Scalar(0), Tensor.Scalar(4), (i, c) => c + i.AsType(DType.Float32), Tensor.Scalar(0f));
        Assert.Equal(6f, g.Item<float>());
    }

    [Fact]
    public void BatchedWhileKeepsFinishedMembersFixed()
    {
        var r = Vmap((Tensor x) => Lax.WhileLoop((Tensor c) => c < 10f, c => c * 2f, x))(Np.Array(new float[] { 1, 3, 20 }));
        Assert.Equal(new float[] { 16, 12, 20 }, r.ToArray<float>());
    }

    [Fact]
    public void MapAppliesSequentially()
    {
        var r = Lax.Map((Tensor row) => row.Sum(), Np.Arange(6).Reshape(3, 2));
        Assert.Equal(new[] { 1, 5, 9 }, r.ToArray<int>());
    }

    [Fact]
    public void ErrorsNameBothSides()
    {
        var e1 = Assert.Throws<TypeMismatchError>(() => Lax.Cond(Tensor.Scalar(true), (Tensor v) => v, v => v.Sum(), Np.Ones([2])));
        Assert.Contains("f32[2]", e1.Message); Assert.Contains("f32[]", e1.Message);
        var e2 = Assert.Throws<TypeMismatchError>(() => Lax.Scan((Tensor c, Tensor x) => (Np.Stack([c, c]), x), Tensor.Scalar(1f), Np.Ones([3])));
        Assert.Contains("carry", e2.Message);
        var e3 = Assert.Throws<ShapeError>(() => Lax.Scan((Tensor c, (Tensor A, Tensor B) x) => (c, x.A), Tensor.Scalar(1f), (Np.Ones([3]), Np.Ones([4]))));
        Assert.Contains("3, 4", e3.Message);
    }

    [Fact]
    public void JaxprShowsBodies()
    {
        var j = Jax.MakeJaxpr((Tensor x) => Lax.Scan((Tensor c, Tensor v) => (c + v, c * 2f), Tensor.Scalar(0f), x).Carry)(Np.Ones([3]));
        var s = j.ToString();
        Assert.Contains("scan[", s);
        Assert.Contains("jaxpr={ lambda", s);
        Assert.Contains("length=3", s);
    }

    [Fact]
    public void ElmanRnnTrainsWithJitGradOverScan()
    {
        var keys = Random.Split(Random.Key(0), 3);
        var p = (Wx: Random.Normal(keys[0], [1, 8]) * 0.5f, Wh: Random.Normal(keys[1], [8, 8]) * 0.3f, Wo: Random.Normal(keys[2], [8, 1]) * 0.5f);
        // Task: predict the running mean of a random sequence.
        var seq = Random.Uniform(Random.Key(5), [100, 4, 1], minval: -1, maxval: 1);
        var target = Np.Cumsum(seq, 0) / Np.Arange(1, 101).AsType(DType.Float32).Reshape(100, 1, 1);
        Tensor Loss((Tensor Wx, Tensor Wh, Tensor Wo) q)
        {
            var (_, outs) = Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(x.Matmul(q.Wx) + h.Matmul(q.Wh)); return (n, n.Matmul(q.Wo)); }, Np.Zeros([4, 8]), seq);
            return Np.Mean(Np.Square(outs - target));
        }
        var step = Jit(ValueAndGrad<(Tensor, Tensor, Tensor)>(Loss));
        float first = 0, last = 0;
        for (int i = 0; i < 60; i++)
        {
            var (l, g) = step(p);
            if (i == 0) first = l.Item<float>();
            last = l.Item<float>();
            p = Tree.Map((w, gw) => w - 0.5f * gw, p, g);
        }
        Assert.True(last < first * 0.5f, $"loss went from {first} to {last}");
    }
}
