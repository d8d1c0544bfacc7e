using static Jx.Transforms;

namespace Jx.Tests;

/// <summary>Buffers planned by liveness: intermediates whose lifetimes do not overlap share a buffer, buffers are reused
/// across calls without corrupting returned values, concurrent calls never share a set, and values that a library call
/// could keep a reference to are never planned.</summary>
public class JitBufferPlanTests
{
    private const int N = 64;

    // a = tanh(x)·2 is read only by the first product b; c = relu(b) + 1 is written after that and read by the second
    // product d, so c can take a's buffer and d b's. The returned value is a reduction (allocated per call).
    private static Tensor Chain(Tensor x, Tensor w)
    {
        var a = Np.Tanh(x) * 2f;
        var b = a.Matmul(w);
        var c = Nn.Relu(b) + 1f;
        var d = c.Matmul(w);
        return Np.Sum(d * d);
    }

    private static (Tensor X, Tensor W) Inputs(int seed) =>
        (Random.Normal(Random.Key(seed), [N, N]), Random.Normal(Random.Key(seed + 100), [N, N]) * 0.1f);

    [Fact]
    public void IntermediatesWithDisjointLifetimesShareOneBuffer()
    {
        var f = Jit<Tensor, Tensor, Tensor>(Chain);
        var (x, w) = Inputs(0);
        var groups = f.Lower(x, w).FusionGroups;
        Assert.Contains("buffers: 4 intermediates in 2 reused buffers", groups);
    }

    [Fact]
    public void ReusedBuffersGiveEagerResultsAndLeaveReturnedValuesIntact()
    {
        // The program returns an intermediate-shaped value too (e), which must be a fresh array on every call.
        Func<Tensor, Tensor, (Tensor, Tensor)> g = (x, w) =>
        {
            var a = Np.Tanh(x) * 2f;
            var e = Np.Exp(a.Matmul(w) * 0.1f);
            return (Np.Sum(Nn.Relu(e.Matmul(w)) + 1f), e);
        };
        var f = Jit(g);
        var results = new List<(Tensor S, Tensor E, float[] ESnapshot)>();
        for (int seed = 0; seed < 4; seed++)
        {
            var (x, w) = Inputs(seed);
            var (s, e) = f(x, w);
            var (s0, e0) = g(x, w);
            Assert.True(Np.AllClose(s, s0, 1e-4, 1e-3), $"seed {seed}: {s} vs {s0}");
            Assert.True(Np.AllClose(e, e0, 1e-5, 1e-6));
            results.Add((s, e, e.ToArray<float>()));
        }
        foreach (var (_, e, snapshot) in results) Assert.Equal(snapshot, e.ToArray<float>());
    }

    [Fact]
    public void SteadyStateCallsAllocateOnlyTheOutputs()
    {
        var f = Jit<Tensor, Tensor, Tensor>(Chain);
        var (x, w) = Inputs(1);
        for (int i = 0; i < 5; i++) f(x, w);
        long before = GC.GetAllocatedBytesForCurrentThread();
        const int calls = 20;
        for (int i = 0; i < calls; i++) f(x, w);
        long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / calls;
        long matrix = N * N * sizeof(float);
        // Neither the kernels' intermediates nor the products' results are allocated per call: only the scalar result
        // and bookkeeping.
        Assert.True(perCall < matrix / 2, $"allocated {perCall} B per call; an intermediate is {matrix} B");
    }

    [Fact]
    public void ConcurrentCallsNeverShareBuffers()
    {
        var f = Jit<Tensor, Tensor, Tensor>(Chain);
        var inputs = Enumerable.Range(0, 4).Select(Inputs).ToArray();
        var expected = inputs.Select(i => f(i.X, i.W).Item<float>()).ToArray();
        var errors = new System.Collections.Concurrent.ConcurrentBag<string>();
        Parallel.For(0, 4, new ParallelOptions { MaxDegreeOfParallelism = 4 }, t =>
        {
            for (int r = 0; r < 30; r++)
            {
                var got = f(inputs[t].X, inputs[t].W).Item<float>();
                if (got != expected[t]) errors.Add($"thread {t} call {r}: {got} != {expected[t]}");
            }
        });
        Assert.Empty(errors);
    }

    [Fact]
    public void ValuesALibraryCallCouldKeepAreNotPlanned()
    {
        // Sort's result could share memory with its operand in some implementation; its operand is never planned.
        var f = Jit((Tensor x) => Np.Sort(Np.Tanh(x) * 2f, -1) + 1f);
        var x = Random.Normal(Random.Key(5), [8, 16]);
        Assert.True(Np.AllClose(f(x), Np.Sort(Np.Tanh(x) * 2f, -1) + 1f, 1e-6, 1e-6));
        Assert.Contains("every kernel output is allocated per call", f.Lower(x).FusionGroups);
    }
    // Σ_t mean(tanh(h·W + x_t)) under ValueAndGrad, batch 32, hidden 64: the forward scan's stacked residuals are read
    // only by the backward scan (as its xs), so they live in planned buffers; the rows the scans read are the loop
    // arena's.
    private static Tensor RnnLoss(Tensor w, Tensor xs) =>
        Lax.Scan((Tensor h, Tensor x) => { var n = Np.Tanh(h.Matmul(w) + x); return (n, n.Mean()); }, Np.Zeros([32, 64]), xs).Ys.Sum();

    [Fact]
    public void AScansStackedResidualsReadOnlyByTheBackwardScanArePlanned()
    {
        var w = Random.Normal(Random.Key(3), [64, 64]) * 0.1f;
        long BytesPerCall(int steps, bool check)
        {
            var f = Jit(ValueAndGrad<Tensor, Tensor>(RnnLoss));
            var xs = Random.Normal(Random.Key(4), [steps, 32, 64]);
            if (check)
            {
                // The two stacked f32[steps,32,64] residuals are planned intermediates.
                var line = f.Lower(w, xs).FusionGroups.Split('\n').Single(l => l.StartsWith("buffers:"));
                Assert.Equal(2, System.Text.RegularExpressions.Regex.Matches(line, $@"float32\[{steps * 2048}\]").Count);
            }
            var (l0, g0) = ValueAndGrad<Tensor, Tensor>(RnnLoss)(w, xs);
            for (int i = 0; i < 3; i++) f(w, xs);
            long before = GC.GetAllocatedBytesForCurrentThread();
            const int calls = 4;
            var results = new List<(Tensor L, Tensor G)>();
            for (int i = 0; i < calls; i++) results.Add(f(w, xs));
            long perCall = (GC.GetAllocatedBytesForCurrentThread() - before) / calls;
            // Every call's results stay intact while later calls reuse the buffers.
            foreach (var (l, g) in results)
            {
                Assert.True(Np.AllClose(l, l0, 1e-5, 1e-5), $"{l} vs {l0}");
                Assert.True(Np.AllClose(g, g0, 1e-4, 1e-5));
            }
            return perCall;
        }
        long at50 = BytesPerCall(50, true), at100 = BytesPerCall(100, false);
        // What one more step allocates: before, two residual rows and a copied row per xs read (8 KB each, six in all);
        // now only the steps' bookkeeping (tensor objects), well under one row.
        long perStep = (at100 - at50) / 50, row = 32 * 64 * sizeof(float);
        Assert.True(perStep < row, $"each step allocates {perStep} B; one row is {row} B");
    }
}
