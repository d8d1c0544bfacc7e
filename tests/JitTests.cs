using static Jx.Transforms;

namespace Jx.Tests;

public class JitTests
{
    private static Tensor Gelu(Tensor x) => 0.5f * x * (1f + Np.Tanh(0.79788456f * (x + 0.044715f * x * x * x)));

    [Fact]
    public void JitMatchesEagerAndFusesGeluIntoOneKernel()
    {
        var x = Random.Normal(Random.Key(0), [1000]);
        var jitted = Jit((Func<Tensor, Tensor>)Gelu);
        var y = jitted(x);
        Assert.True(Np.AllClose(y, Gelu(x), 1e-5, 1e-6));
        var lowered = jitted.Lower(x);
        Assert.Equal(1, lowered.KernelCount);
        Assert.Contains("Vector512", lowered.GeneratedCode);
    }

    [Fact]
    public void SoftmaxRowsCompileToAtMostThreeKernels()
    {
        var x = Random.Normal(Random.Key(1), [64, 100]);
        var f = Jit((Tensor t) => Nn.Softmax(t));
        Assert.True(Np.AllClose(f(x), Nn.Softmax(x), 1e-5, 1e-6));
        Assert.True(f.Lower(x).KernelCount <= 3, f.Lower(x).FusionGroups);
    }

    [Fact]
    public void ReductionsWithFusedProducers()
    {
        var x = Random.Normal(Random.Key(2), [33, 70]);
        Func<Tensor, Tensor> f = t => Np.Sum(Np.Exp(t) * 2, [1]) + Np.Max(t, [0]).Sum();
        Assert.True(Np.AllClose(Jit(f)(x), f(x), 1e-5, 1e-5));
        Func<Tensor, Tensor> g = t => Np.Mean(t * t, [0]);
        Assert.True(Np.AllClose(Jit(g)(x), g(x), 1e-5, 1e-6));
        Func<Tensor, Tensor> h = t => Nn.LogSumExp(t, [1]);
        Assert.True(Np.AllClose(Jit(h)(x), h(x), 1e-5, 1e-5));
        var big = Random.Normal(Random.Key(3), [3, 5, 7, 9]);
        Func<Tensor, Tensor> k2 = t => Np.Sum(t.Transpose(2, 0, 3, 1) * 3, [1, 3]);
        Assert.True(Np.AllClose(Jit(k2)(big), k2(big), 1e-5, 1e-5));
    }

    [Fact]
    public void BroadcastTransposeSliceAndReverseBecomeViews()
    {
        var a = Random.Normal(Random.Key(4), [4, 6]);
        var b = Random.Normal(Random.Key(5), [6]);
        Func<Tensor, Tensor, Tensor> f = (x, y) => Np.Tanh(x.T[1..5] * y[..4]) + Np.Flip(x, [1]).Sum(1).Reshape(4, 1).T.Reshape(4)[0];
        var jf = Jit(f);
        Assert.True(Np.AllClose(jf(a, b), f(a, b), 1e-5, 1e-6));
    }

    [Fact]
    public void DtypesIntegersBoolsAndFloat64()
    {
        var i = Np.Arange(24).Reshape(4, 6);
        Func<Tensor, Tensor> f = x => Np.Where(Np.Equal(x % 3, 0) | x > 20, x * 2, -x) + Np.FloorDivide(x, 4);
        Assert.Equal(f(i).ToDoubleArray(), Jit(f)(i).ToDoubleArray());
        var d = Random.Normal(Random.Key(6), [50], DType.Float64);
        Func<Tensor, Tensor> g = x => Np.Sin(x) * Np.Exp(-x * x) + Nn.Sigmoid(x) + Lax.Erf(x);
        Assert.True(Np.AllClose(Jit(g)(d), g(d), 1e-12, 1e-12));
    }

    [Fact]
    public void CachingRetracesOnlyOnNewSignatures()
    {
        int traces = 0;
        var f = Jit((Tensor x) => { traces++; return x * 2; });
        f(Np.Ones([3])); f(Np.Ones([3])); f(Np.Zeros([3]));
        Assert.Equal(1, traces);
        f(Np.Ones([4]));
        Assert.Equal(2, traces);
        f(Np.Ones([4], DType.Float64));
        Assert.Equal(3, traces);
        var info = JitInfo(f);
        Assert.Equal(3, info.TraceCount);
        Assert.Equal("first call", info.TraceReasons[0]);
        Assert.Contains("new shapes/dtypes", info.TraceReasons[1]);
    }

    [Fact]
    public void StaticArgumentsAreCacheKeysByValue()
    {
        int traces = 0;
        var f = Jit((Tensor x, int n) => { traces++; return x * n; }, staticArgnums: [1]);
        Assert.Equal(new float[] { 3, 3 }, f(Np.Ones([2]), 3).ToArray<float>());
        f(Np.Ones([2]), 3);
        Assert.Equal(1, traces);
        Assert.Equal(new float[] { 5, 5 }, f(Np.Ones([2]), 5).ToArray<float>());
        Assert.Equal(2, traces);
        Assert.Contains("new static value", JitInfo(f).TraceReasons[1]);
    }

    [Fact]
    public void ComposesWithGradVmapAndNesting()
    {
        Func<Tensor, Tensor> f = x => Np.Sum(Np.Sin(x) * x);
        var x = Np.Array(new double[] { 0.3, 1.2, -0.7 });
        var expected = Grad(f)(x);
        Assert.True(Np.AllClose(Jit(Grad(f))(x), expected, 1e-12, 1e-12));
        Assert.True(Np.AllClose(Grad(Jit(f))(x), expected, 1e-12, 1e-12));
        var xs = Np.Stack([x, x * 2]);
        Assert.True(Np.AllClose(Vmap(Jit(f))(xs), Np.Array(new[] { f(x).Item(), f(x * 2).Item() }), 1e-12, 1e-12));
        Assert.True(Np.AllClose(Jit(Vmap(Grad(f)))(xs), Np.Stack([Grad(f)(x), Grad(f)(x * 2)]), 1e-12, 1e-12));
        var inner = Jit((Tensor t) => t * 3);
        var outer = Jit((Tensor t) => inner(t) + 1);
        Assert.Equal(new double[] { 1.9, 4.6, -1.1 }.Select(v => Math.Round(v, 10)), outer(x).ToDoubleArray().Select(v => Math.Round(v, 10)));
        Assert.Contains("pjit", Jax.MakeJaxpr((Tensor t) => inner(t) + 1)(x).ToString());
    }

    [Fact]
    public void WrongStructureRetracesInsteadOfCrashing()
    {
        var f = Jit<object, Tensor>(a => a is Tensor t ? t * 2 : Tree.Leaves(a).Aggregate((p, q) => p + q));
        Assert.Equal(new float[] { 2 }, f(Np.Ones([1])).ToArray<float>());
        Assert.Equal(new float[] { 2 }, f((Np.Ones([1]), Np.Ones([1]))).ToArray<float>());
        Assert.Equal(2, JitInfo(f).TraceCount);
    }

    [Fact]
    public void DonatedBuffersCannotBeReused()
    {
        var f = Jit((Tensor x) => x + 1, donateArgnums: [0]);
        var x = Np.Ones([3]);
        var y = f(x);
        Assert.Equal(new float[] { 2, 2, 2 }, y.ToArray<float>());
        var e = Assert.Throws<DonatedBufferError>(() => x.ToArray<float>());
        Assert.Contains("donated", e.Message);
        Assert.Throws<DonatedBufferError>(() => (x * 2).ToString());
    }

    [Fact]
    public void LogCompilesReportsReasons()
    {
        var lines = new List<string>();
        var (enabled, sink) = (JitLog.Enabled, JitLog.Sink);
        try
        {
            JitLog.Enabled = true;
            JitLog.Sink = l => { lock (lines) lines.Add(l); };
            var f = Jit((Tensor x) => x - 1);
            f(Np.Ones([2])); f(Np.Ones([5]));
            Assert.Contains(lines, l => l.Contains("first call"));
            Assert.Contains(lines, l => l.Contains("new shapes"));
        }
        finally { JitLog.Enabled = enabled; JitLog.Sink = sink; }
    }

    [Fact]
    public void RetracingEveryCallIsReportedOnce()
    {
        var lines = new List<string>();
        var sink = JitLog.Sink;
        try
        {
            JitLog.Sink = l => { lock (lines) lines.Add(l); };
            var f = Jit((Tensor x) => x + 2);
            for (int n = 1; n <= 9; n++) f(Np.Ones([n]));
            Assert.Single(lines, l => l.Contains("retraced on each"));
        }
        finally { JitLog.Sink = sink; }
    }

    [Fact]
    public void PassesFoldSimplifyCseAndDce()
    {
        Func<Tensor, Tensor> f = x =>
        {
            var unused = Np.Exp(x) * 5;
            var c = Np.Ones([3]) * 2 + 1;           // constant-folded
            return (x * 1f + 0f) * c + Np.Sin(x) + Np.Sin(x); // x*1, x+0 simplified; sin(x) computed once
        };
        var cj = Jax.MakeJaxpr(f)(Np.Ones([3]));
        var opt = Passes.Optimize(cj);
        var names = opt.Jaxpr.Eqns.Select(e => e.Primitive.Name).ToList();
        Assert.DoesNotContain("exp", names);
        Assert.Equal(1, names.Count(n => n == "sin"));
        Assert.True(opt.Jaxpr.Eqns.Count < cj.Jaxpr.Eqns.Count);
        var x = Np.Array(new float[] { 0.1f, 0.2f, 0.3f });
        Assert.True(Np.AllClose(opt.Call(x)[0], f(x), 1e-6, 1e-6));
    }

    [Fact]
    public void JittedFloat32TanhIsWithinAFewUlpEverywhere()
    {
        // Dense sweep over [-12, 12], the tiny range, the float extremes and the specials; the vector lanes use XLA's
        // rational interpolant, the scalar tail MathF.Tanh.
        var xs = Enumerable.Range(-24000, 48001).Select(i => i * 5e-4f)
            .Concat([1e-8f, -3e-5f, 3.9e-4f, 4.1e-4f, float.Epsilon, 1e30f, -1e30f, float.MaxValue, float.PositiveInfinity,
                     float.NegativeInfinity, float.NaN]).ToArray();
        var got = Jit((Tensor v) => Np.Tanh(v))(Tensor.FromArray(xs)).ToArray<float>();
        for (int i = 0; i < xs.Length; i++)
        {
            double want = Math.Tanh(xs[i]);
            if (double.IsNaN(want)) { Assert.True(float.IsNaN(got[i]), $"tanh(NaN) = {got[i]}"); continue; }
            Assert.True(Math.Abs(got[i] - want) <= 4 * (MathF.BitIncrement(MathF.Abs((float)want)) - MathF.Abs((float)want)) + 1e-30,
                $"tanh({xs[i]:R}) = {got[i]:R}, want {want:R}");
        }
    }

    [Fact]
    public void JittedFloat32ExpIsWithinOneUlpIncludingSubnormalsAndSpecials()
    {
        var xs = Enumerable.Range(-1100, 2001).Select(i => i * 0.1f)
            .Concat([-87.5f, -100f, -103.2f, -104f, -110f, 88.7f, 88.8f, 0f, -0f, float.NaN, float.PositiveInfinity, float.NegativeInfinity])
            .ToArray();
        var got = Jit((Tensor v) => Np.Exp(v))(Tensor.FromArray(xs)).ToArray<float>();
        for (int i = 0; i < xs.Length; i++)
        {
            float want = (float)Math.Exp(xs[i]);
            if (float.IsNaN(want)) { Assert.True(float.IsNaN(got[i])); continue; }
            if (want == 0 || float.IsInfinity(want) || want < 1.2e-38f)
            {
                // Zero, infinity and subnormals: within one subnormal step of the correctly rounded value.
                Assert.True(got[i] == want || Math.Abs(got[i] - Math.Exp(xs[i])) <= 1.5e-45, $"exp({xs[i]:R}) = {got[i]:R}, want {want:R}");
                continue;
            }
            double ulp = MathF.BitIncrement(want) - want;
            Assert.True(Math.Abs(got[i] - Math.Exp(xs[i])) <= 1.0 * ulp, $"exp({xs[i]:R}) = {got[i]:R}, want {Math.Exp(xs[i]):R}");
        }
    }
}
