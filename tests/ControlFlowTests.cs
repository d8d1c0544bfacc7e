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

    // ---- reverse mode through scan stores residuals per iteration (JAX's partial evaluation of scan) ----

    private static readonly Tensor RnnW = Np.Array(new double[,] { { 0.5, -0.3, 0.1 }, { 0.2, 0.8, -0.6 }, { -0.4, 0.1, 0.3 } });
    private static readonly Tensor RnnXs = Np.Array(new double[,] { { 0.1, 0.2, -0.3 }, { -0.4, 0.3, 0.0 }, { 0.5, -0.1, 0.2 }, { 0.0, 0.7, -0.2 }, { 0.3, 0.3, 0.6 } });

    internal static Tensor Rnn(Tensor w, Tensor seq, bool checkpoint)
    {
        Func<(Tensor H, Tensor X), Tensor> cell = a => Np.Tanh(a.H.Matmul(w) + a.X);
        if (checkpoint) cell = Checkpoint(cell);
        var (h, ys) = Lax.Scan((Tensor hh, Tensor x) => { var n = cell((hh, x)); return (n, n.Sum()); }, Np.Zeros([3], DType.Float64), seq);
        return h.Sum() + ys.Sum();
    }

    private static Tensor Unrolled(Tensor w, Tensor seq)
    {
        var h = Np.Zeros([3], DType.Float64);
        Tensor acc = Tensor.Scalar(0.0);
        for (int i = 0; i < seq.Shape[0]; i++) { h = Np.Tanh(h.Matmul(w) + seq[i]); acc = acc + h.Sum(); }
        return h.Sum() + acc;
    }

    /// <summary>Every equation of a jaxpr, including those of sub-jaxprs (scan bodies, cond branches).</summary>
    internal static IEnumerable<Eqn> AllEqns(Jaxpr j)
    {
        foreach (var e in j.Eqns)
        {
            yield return e;
            foreach (var kv in e.Params)
            {
                var subs = kv.Value switch { ClosedJaxpr c => [c.Jaxpr], ParamList l => l.OfType<ClosedJaxpr>().Select(c => c.Jaxpr), _ => Enumerable.Empty<Jaxpr>() };
                foreach (var sub in subs) foreach (var se in AllEqns(sub)) yield return se;
            }
        }
    }

    private static Jaxpr Body(Eqn scan) => scan.Params.Get<ClosedJaxpr>("jaxpr").Jaxpr;

    [Fact]
    public void GradOfScanIsAForwardScanStoringResidualsAndABackwardScanReadingThem()
    {
        var grad = Grad((Tensor w) => Rnn(w, RnnXs, checkpoint: false));
        var j = MakeJaxpr(grad)(RnnW).Jaxpr;
        var scans = j.Eqns.Where(e => e.Primitive == ControlFlow.Scan).ToArray();
        // One forward scan (primal carry, ys and per-step residuals) and one backward scan; no re-run of the forward.
        Assert.Equal(2, scans.Length);
        Assert.False(scans[0].Params.Bool("reverse"));
        Assert.True(scans[1].Params.Bool("reverse"));
        Assert.Single(AllEqns(Body(scans[0])), e => e.Primitive.Name == "tanh");
        Assert.DoesNotContain(AllEqns(Body(scans[1])), e => e.Primitive.Name == "tanh");
        // The residuals come out of the forward scan stacked along the 5 steps.
        Assert.Contains(scans[0].Outputs, v => v.Aval.Shape == new Shape([5, 3]));
        Assert.True(Np.AllClose(grad(RnnW), Grad((Tensor w) => Unrolled(w, RnnXs))(RnnW), 1e-12, 1e-12));
        Assert.True(Np.AllClose(Jit(grad)(RnnW), Grad((Tensor w) => Unrolled(w, RnnXs))(RnnW), 1e-12, 1e-12));
    }

    [Fact]
    public void LoopInvariantResidualsAreComputedOnceOutsideTheLoop()
    {
        // exp(w) depends only on a constant of the loop: its residual is hoisted out of the forward scan (computed once,
        // not stacked per step), and the backward scan reads it as a constant.
        Func<Tensor, Tensor> f = w => Lax.Scan((Tensor c, Tensor x) => (c * Np.Exp(w) + x, c.Sum()), Np.Ones([3], DType.Float64), RnnXs) switch { var (c, ys) => c.Sum() + ys.Sum() };
        Func<Tensor, Tensor> unrolled = w =>
        {
            var c = Np.Ones([3], DType.Float64);
            Tensor acc = Tensor.Scalar(0.0);
            for (int i = 0; i < 5; i++) { acc = acc + c.Sum(); c = c * Np.Exp(w) + RnnXs[i]; }
            return c.Sum() + acc;
        };
        var w0 = Np.Array(new double[] { 0.1, -0.2, 0.3 });
        var j = MakeJaxpr(Grad(f))(w0).Jaxpr;
        var scans = j.Eqns.Where(e => e.Primitive == ControlFlow.Scan).ToArray();
        Assert.Equal(2, scans.Length);
        Assert.Contains(j.Eqns, e => e.Primitive.Name == "exp");                      // the hoisted residual
        Assert.DoesNotContain(AllEqns(Body(scans[1])), e => e.Primitive.Name == "exp");
        // Forward scan outputs: the carry, the ys and one stacked residual (the carry before each step).
        Assert.Equal([new Shape([3]), new Shape([5]), new Shape([5, 3])], scans[0].Outputs.Select(v => v.Aval.Shape));
        Assert.True(Np.AllClose(Grad(f)(w0), Grad(unrolled)(w0), 1e-12, 1e-12));
    }

    [Fact]
    public void JvpOfScanIsOneScanAndKeepsZeroTangentsSymbolic()
    {
        var tw = Np.OnesLike(RnnW) * 0.5;
        var j = MakeJaxpr((Tensor w) => Jvp((Tensor v) => Rnn(v, RnnXs, checkpoint: false), w, tw).Tangent)(RnnW).Jaxpr;
        var scans = j.Eqns.Where(e => e.Primitive == ControlFlow.Scan).ToArray();
        Assert.Single(scans);
        // xs has no tangent: no zero [5, 3] tangent sequence is made or fed to the scan (only xs itself).
        Assert.Single(scans[0].Inputs, a => a.Aval.Shape == new Shape([5, 3]));
        var (y, t) = Jvp((Tensor v) => Rnn(v, RnnXs, checkpoint: false), RnnW, tw);
        var (yu, tu) = Jvp((Tensor v) => Unrolled(v, RnnXs), RnnW, tw);
        Assert.Equal(yu.Item<double>(), y.Item<double>(), 12);
        Assert.Equal(tu.Item<double>(), t.Item<double>(), 12);
    }

    [Fact]
    public void ReverseModeThroughScansWithIntegerCarriesCondsNestedScansAndReverseOrder()
    {
        var xs = Np.Array(new double[,] { { 0.3, -0.2 }, { 0.5, 0.1 }, { -0.4, 0.6 } });
        // An integer step counter in the carry, a cond on it, and ys that do not depend on the parameter.
        Tensor WithCounter(Tensor w, Tensor seq) => Lax.Scan(((Tensor H, Tensor I) c, Tensor x) =>
        {
            var h = Lax.Cond(Np.Equal(c.I % 2, Tensor.Scalar(0)), (Tensor v) => Np.Sin(v * w), v => Np.Cos(v) * w, c.H + x);
            return ((h, c.I + 1), (h.Sum(), x.Sum()));
        }, (Np.Zeros([2], DType.Float64), Tensor.Scalar(0)), seq) switch { var (c, ys) => c.Item1.Sum() + ys.Item1.Sum() * ys.Item2.Sum() };
        CheckGrads(((Tensor W, Tensor X) a) => WithCounter(a.W, a.X), (Np.Array(new double[] { 0.7, -1.1 }), xs), order: 2);
        // A scan inside a scan body, and a reverse scan.
        Tensor Nested(Tensor w, Tensor seq) => Lax.Scan((Tensor h, Tensor x) =>
        {
            var inner = Lax.Scan((Tensor g, Tensor v) => (Np.Tanh(g * w + v), g * v), h, Np.Stack([x, x * 2])).Carry;
            return (inner, inner.Sum());
        }, Np.Zeros([2], DType.Float64), seq, reverse: true) switch { var (c, ys) => c.Sum() + (ys * ys).Sum() };
        CheckGrads(((Tensor W, Tensor X) a) => Nested(a.W, a.X), (Np.Array(new double[] { 0.7, -1.1 }), xs), order: 2);
        var jitGrad = Jit(Grad((Tensor w) => Nested(w, xs)))(Np.Array(new double[] { 0.7, -1.1 }));
        Assert.True(Np.AllClose(jitGrad, Grad((Tensor w) => Nested(w, xs))(Np.Array(new double[] { 0.7, -1.1 })), 1e-12, 1e-12));
    }

    [Fact]
    public void CheckpointInsideAScanBodyRecomputesInTheBackwardScanWithTheSameGradient()
    {
        var plain = Grad((Tensor w, Tensor seq) => Rnn(w, seq, checkpoint: false), argnums: [0, 1]);
        var remat = Grad((Tensor w, Tensor seq) => Rnn(w, seq, checkpoint: true), argnums: [0, 1]);
        var gp = plain(RnnW, RnnXs);
        var gr = remat(RnnW, RnnXs);
        for (int k = 0; k < 2; k++) Assert.True(Np.AllClose((Tensor)gr[k]!, (Tensor)gp[k]!, 1e-12, 1e-12));
        var gj = Jit((Tensor w, Tensor seq) => (Tensor)remat(w, seq)[0]!)(RnnW, RnnXs);
        Assert.True(Np.AllClose(gj, (Tensor)gp[0]!, 1e-12, 1e-12));
        // With checkpoint the backward scan recomputes the cell (tanh) instead of reading a stored (1 - tanh²).
        var j = MakeJaxpr((Tensor w) => (Tensor)remat(w, RnnXs)[0]!)(RnnW).Jaxpr;
        var scans = j.Eqns.Where(e => e.Primitive == ControlFlow.Scan).ToArray();
        Assert.Equal(2, scans.Length);
        Assert.Contains(AllEqns(Body(scans[1])), e => e.Primitive.Name == "tanh");
        CheckGrads(((Tensor W, Tensor X) a) => Rnn(a.W, a.X, checkpoint: true), (RnnW, RnnXs), order: 2);
        // The staged checkpoint equation also evaluates, compiles and batches like the plain body.
        Assert.Equal(Rnn(RnnW, RnnXs, false).Item<double>(), Jit((Tensor w) => Rnn(w, RnnXs, true))(RnnW).Item<double>(), 12);
        var batch = Np.Stack([RnnXs, RnnXs * 2, -RnnXs]);
        var vm = Vmap((Tensor seq) => Rnn(RnnW, seq, true))(batch);
        var vg = Vmap((Tensor seq) => (Tensor)remat(RnnW, seq)[0]!)(batch);
        for (int b = 0; b < 3; b++)
        {
            Assert.Equal(Rnn(RnnW, batch[b], false).Item<double>(), vm[b].Item<double>(), 12);
            Assert.True(Np.AllClose(vg[b], (Tensor)plain(RnnW, batch[b])[0]!, 1e-12, 1e-12));
        }
    }
}

[CollectionDefinition("ScanEagerCounts", DisableParallelization = true)]
public class ScanEagerCountsCollection;

/// <summary>Counts eager kernel executions (not tracings) of the scan body's tanh with the eager profiler.</summary>
[Collection("ScanEagerCounts")]
public class ScanResidualEagerTests
{
    private static int TanhCalls(Func<Tensor> run)
    {
        EagerProfiler.Reset();
        EagerProfiler.Enabled = true;
        try { run(); }
        finally { EagerProfiler.Enabled = false; }
        var line = EagerProfiler.Report(100).Split('\n').SingleOrDefault(l => l.Contains("tanh -> f64[3]"));
        Assert.NotNull(line);
        return int.Parse(line.Split("calls")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]);
    }

    [Fact]
    public void EagerGradRunsTheCellOncePerStepAndTwiceWithCheckpoint()
    {
        var w = Np.Array(new double[,] { { 0.5, -0.3, 0.1 }, { 0.2, 0.8, -0.6 }, { -0.4, 0.1, 0.3 } });
        var xs = Np.Array(new double[,] { { 0.1, 0.2, -0.3 }, { -0.4, 0.3, 0.0 }, { 0.5, -0.1, 0.2 }, { 0.0, 0.7, -0.2 }, { 0.3, 0.3, 0.6 } });
        // 5 steps: the forward scan evaluates tanh 5 times and the backward scan reads stored residuals.
        Assert.Equal(5, TanhCalls(() => Grad((Tensor v) => ControlFlowTests.Rnn(v, xs, checkpoint: false))(w)));
        // Checkpointed cell: 5 forward + 5 recomputed in the backward scan.
        Assert.Equal(10, TanhCalls(() => Grad((Tensor v) => ControlFlowTests.Rnn(v, xs, checkpoint: true))(w)));
    }
}

/// <summary>Reverse mode through cond keeps the taken branch's residuals instead of running its primal again.</summary>
[Collection("ScanEagerCounts")]
public class CondResidualEagerTests
{
    private static int Calls(string what, Func<object> run)
    {
        EagerProfiler.Reset();
        EagerProfiler.Enabled = true;
        try { run(); }
        finally { EagerProfiler.Enabled = false; }
        var line = EagerProfiler.Report(100).Split('\n').SingleOrDefault(l => l.Contains(what));
        return line is null ? 0 : int.Parse(line.Split("calls")[0].Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1]);
    }

    private static readonly Tensor W = Np.Array(new double[] { 0.5, -0.3, 0.8 });

    private static Tensor F(Tensor x) =>
        Lax.Cond(x.Sum() > 0.0, (Tensor v) => Np.Tanh(v * W).Sum() * 2.0, v => Np.Exp(v * W).Sum(), x);

    [Fact]
    public void GradRunsTheTakenBranchOnceAndMatchesFiniteDifferences()
    {
        foreach (var x0 in new[] { Np.Array(new double[] { 0.3, 0.1, -0.2 }), Np.Array(new double[] { -0.3, 0.1, -0.2 }) })
        {
            bool positive = x0.Sum().Item<double>() > 0;
            string op = positive ? "tanh -> f64[3]" : "exp -> f64[3]";
            Assert.Equal(1, Calls(op, () => Grad(F)(x0)));
            Assert.Equal(1, Calls(op, () => ValueAndGrad(F)(x0)));
            // The untaken branch never runs.
            Assert.Equal(0, Calls(positive ? "exp -> f64[3]" : "tanh -> f64[3]", () => Grad(F)(x0)));
            var g = Grad(F)(x0).ToArray<double>();
            for (int i = 0; i < 3; i++)
            {
                var e = new double[3]; e[i] = 1e-6;
                var d = Np.Array(e);
                double fd = (F(x0 + d).Item<double>() - F(x0 - d).Item<double>()) / 2e-6;
                Assert.Equal(fd, g[i], 6);
            }
            Assert.True(Np.AllClose(Grad(F)(x0), Jit(Grad(F))(x0), 1e-12, 1e-12));
        }
    }

    [Fact]
    public void ABatchedPredicateSelectsTheResidualsOfEachMember()
    {
        // Under Vmap a batched predicate runs both branches and selects, residuals included; bool and int residuals
        // (a mask, an argmax) travel with them. Compared with the same function written with Where.
        static Tensor Pos(Tensor v) => Np.Where(v > 0.0, Np.Tanh(v * W), v * v).Sum() + Np.Take(v, Np.Argmax(v)) * 2.0;
        static Tensor Neg(Tensor v) => Np.Exp(v * W).Sum();
        Func<Tensor, Tensor> viaCond = v => Lax.Cond(v.Sum() > 0.0, Pos, Neg, v);
        Func<Tensor, Tensor> viaWhere = v => Np.Where(v.Sum() > 0.0, Pos(v), Neg(v));
        var xs = Np.Array(new double[,] { { 0.3, 0.1, -0.2 }, { -0.3, 0.1, -0.2 }, { 0.9, -0.4, 0.7 } });
        var want = Vmap(Grad(viaWhere))(xs);
        Assert.True(Np.AllClose(Vmap(Grad(viaCond))(xs), want, 1e-12, 1e-12));
        Assert.True(Np.AllClose(Jit(Vmap(Grad(viaCond)))(xs), want, 1e-12, 1e-12));
        for (int b = 0; b < 3; b++) Assert.True(Np.AllClose(Grad(viaCond)(xs[b]), want[b], 1e-12, 1e-12));
    }

    [Fact]
    public void SwitchBranchesWithDifferentResidualsTransposeCorrectly()
    {
        // Three branches that keep different residuals (none, one, two), under Grad, Jit(Grad) and a second order.
        Func<Tensor, Tensor, Tensor> f = (i, x) => Lax.Switch(i, [v => v * 3.0, v => Np.Sin(v) * v, v => Np.Exp(v) * Np.Cos(v)], x).Sum();
        var x0 = Np.Array(new double[] { 0.4, -0.7 });
        var expected = new Func<double, double>[] { v => 3, v => Math.Cos(v) * v + Math.Sin(v), v => Math.Exp(v) * (Math.Cos(v) - Math.Sin(v)) };
        for (int b = 0; b < 3; b++)
        {
            var i = Tensor.Scalar(b);
            var g = Grad((Tensor x) => f(i, x))(x0).ToArray<double>();
            var gj = Jit(Grad((Tensor x) => f(i, x)))(x0).ToArray<double>();
            var xs = x0.ToArray<double>();
            for (int k = 0; k < 2; k++)
            {
                Assert.Equal(expected[b](xs[k]), g[k], 12);
                Assert.Equal(expected[b](xs[k]), gj[k], 12);
            }
            CheckGrads((Tensor x) => f(i, x), x0, order: 2);
        }
    }
}
