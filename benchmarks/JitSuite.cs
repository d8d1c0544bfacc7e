using System.Diagnostics;
using System.Text.Json;
using Jx;
using static Jx.Transforms;
using Random = Jx.Random;

namespace Jx.Benchmarks;

/// <summary>The Jit workloads (`--jit`): W1/W2/W3 jitted against the hand-fused loops and eager BLAS, W4 (the MLP
/// training step) and W5 (per-example gradients) against PyTorch's eager peer from the same run, W6 (time to the first
/// result in fresh processes, with an empty and with a warm disk cache) and the dispatch cost of a cached call.
/// Every result is checked before it is timed.</summary>
internal static class JitSuite
{
    private sealed record Mlp(Tensor W1, Tensor B1, Tensor W2, Tensor B2, Tensor W3, Tensor B3);

    private static (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) Init()
    {
        var k = Random.Split(Random.Key(0), 3);
        return (Random.Normal(k[0], [784, 512]) * (1f / 28f), Np.Zeros([512]), Random.Normal(k[1], [512, 512]) * (1f / 22.6f), Np.Zeros([512]),
                Random.Normal(k[2], [512, 10]) * (1f / 22.6f), Np.Zeros([10]));
    }

    private static Tensor Loss((Tensor W1, Tensor B1, Tensor W2, Tensor B2, Tensor W3, Tensor B3) p, Tensor x, Tensor y)
    {
        var h1 = Nn.Relu(x.Matmul(p.W1) + p.B1);
        var h2 = Nn.Relu(h1.Matmul(p.W2) + p.B2);
        return Nn.SoftmaxCrossEntropyWithIntegerLabels(h2.Matmul(p.W3) + p.B3, y).Mean();
    }

    private static Func<((Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) P, (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) M, (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor) V, Tensor T), Tensor, Tensor,
        (((Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), (Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), Tensor), Tensor)> MakeStep()
    {
        var vg = ValueAndGrad<(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), Tensor, Tensor>(Loss);
        const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f;
        return (s, x, y) =>
        {
            var (p, m, v, t) = s;
            var (loss, g) = vg(p, x, y);
            var t1 = t + 1f;
            var m2 = Tree.Map((mi, gi) => b1 * mi + (1 - b1) * gi, m, g);
            var v2 = Tree.Map((vi, gi) => b2 * vi + (1 - b2) * gi * gi, v, g);
            var c1 = 1f - Np.Power(Tensor.Scalar(b1), t1);
            var c2 = 1f - Np.Power(Tensor.Scalar(b2), t1);
            var p2 = Tree.Map((pi, mi, vi) => pi - lr * (mi / c1) / (Np.Sqrt(vi / c2) + 1e-8f), p, m2, v2);
            return ((p2, m2, v2, t1), loss);
        };
    }

    private static double Median(Action a, int reps) => Stats.Of(a, 1, reps).MedianMs;

    public static int Run(string[] args)
    {
        if (args.Length >= 2 && args[0] == "--w6-child") return W6Child();
        if (args.Length >= 1 && args[0] == "--w4ad-child") return W4AdChild(args.Contains("--quick"));
        bool quick = args.Contains("--quick");
        int reps = quick ? 5 : 15;
        int threads = Environment.ProcessorCount;
        var rows = new List<(string Id, string What, double Jx, string Ref, double? RefMs, string Unit)>();
        Console.WriteLine($"Jx Jit benchmarks ({threads} threads, {Gemm.Backend})");

        // W1
        var xs = Data.Normal(Sizes.W1, 1);
        var x = Tensor.FromArray(xs);
        var gelu = Jit((Tensor v) => 0.5f * v * (1f + Np.Tanh(0.79788456f * (v + 0.044715f * v * v * v))));
        var y = gelu(x).ToArray<float>();
        var want = new float[xs.Length];
        HandWritten.GeluFused(xs, want, threads);
        var ok1 = Check.AllClose("W1", y, want, 1e-5, 1e-6);
        if (!ok1.Ok) { Console.WriteLine($"W1 WRONG: {ok1.Detail}"); return 1; }
        var w1 = Median(() => gelu(x), reps);
        var w1ref = Median(() => HandWritten.GeluFused(xs, want, threads), reps);
        rows.Add(("W1", "tanh-GELU 16M f32, Jit (1 kernel)", w1, "hand-fused Vector512 C#", w1ref, "ms"));

        // W2
        var ms = Data.Normal(4096 * 4096, 2);
        var m = Tensor.FromArray(ms, new Shape(4096, 4096));
        var lse = Jit((Tensor t) => Nn.LogSumExp(t, [1]));
        var got2 = lse(m).ToArray<float>();
        var want2 = new float[4096];
        HandWritten.LogSumExpRows(ms, 4096, 4096, want2, threads);
        var ok2 = Check.AllClose("W2", got2, want2, 1e-5, 1e-5);
        if (!ok2.Ok) { Console.WriteLine($"W2 WRONG: {ok2.Detail}"); return 1; }
        var w2 = Median(() => lse(m), reps);
        var w2ref = Median(() => HandWritten.LogSumExpRows(ms, 4096, 4096, want2, threads), reps);
        rows.Add(("W2", $"row LogSumExp 4096², Jit ({lse.Lower(m).KernelCount} kernels)", w2, "hand-fused Vector512 C#", w2ref, "ms"));

        // W3
        var a = Tensor.FromArray(Data.Normal(2048 * 2048, 3), new Shape(2048, 2048));
        var b = Tensor.FromArray(Data.Normal(2048 * 2048, 4), new Shape(2048, 2048));
        var mm = Jit((Tensor p, Tensor q) => Np.Matmul(p, q));
        if (!Np.AllClose(mm(a, b)[..4], Np.Matmul(a[..4], b), 1e-4, 1e-3)) { Console.WriteLine("W3 WRONG"); return 1; }
        var w3 = Median(() => mm(a, b), quick ? 3 : 7);
        var w3ref = Median(() => Np.Matmul(a, b), quick ? 3 : 7);
        rows.Add(("W3", "matmul 2048³ f32, Jit", w3, "eager Np.Matmul (same BLAS)", w3ref, "ms"));

        // W4 and W5
        var torch = TorchPeer.Run(null, Program.RepoRoot(), threads, quick: true);
        var p0 = Init();
        var z = Tree.Map(t => Np.ZerosLike(t), p0);
        var xb = Random.Normal(Random.Key(7), [256, 784]);
        var yb = Random.Randint(Random.Key(8), [256], 0, 10);
        var step = Jit(MakeStep());
        var (s1, l1) = step((p0, z, z, Tensor.Scalar(0f)), xb, yb);
        var eagerLoss = Loss(p0, xb, yb).Item<float>();
        if (Math.Abs(l1.Item<float>() - eagerLoss) > 1e-4 * Math.Abs(eagerLoss) + 1e-5) { Console.WriteLine("W4 WRONG"); return 1; }
        var cur = s1;
        var w4 = Median(() => { var (n, l) = step(cur, xb, yb); cur = n; l.Item<float>(); }, quick ? 9 : 25);
        rows.Add(("W4", $"MLP 784-512-512-10 b256 train step, Jit ({step.Lower((p0, z, z, Tensor.Scalar(0f)), xb, yb).KernelCount} kernels)", w4, "PyTorch eager step", torch.Median("W4"), "ms"));
        // The same step with its state donated (donateArgnums: [0], as a JAX user would write it): parameters and Adam
        // moments are updated in place. It starts from copies, since donated arrays cannot be used again.
        var stepDonating = Jit(MakeStep(), donateArgnums: [0]);
        var curD = Tree.Map(t => t * 1f, s1);
        var w4d = Median(() => { var (n, l) = stepDonating(curD, xb, yb); curD = n; l.Item<float>(); }, quick ? 9 : 25);
        rows.Add(("W4-don", "W4 train step, Jit with the state donated (updated in place)", w4d, "PyTorch eager step", torch.Median("W4"), "ms"));
        // Issue 3: eager ValueAndGrad against the eager forward (timed alternately in a fresh process, like the PyTorch
        // peer: the heap this process built for W1–W4 would otherwise set the eager workloads' GC costs), and against
        // PyTorch's eager forward+backward of the same loss (benchmarks/peers/torch_fwd_bwd.py). Three rounds, Jx child
        // then PyTorch each time, so that the machine's drifts in speed land on both; the rows give the medians of the
        // rounds' medians.
        var rounds = new List<(double Fwd, double Vag, double? Torch)>();
        string? torchError = null;
        for (int round = 0; round < 3; round++)
        {
            var (f, v) = W4AdProcess(quick);
            var peer = TorchPeer.Run(Path.Combine(Program.RepoRoot() ?? ".", "benchmarks", "peers", "torch_fwd_bwd.py"), Program.RepoRoot(), threads, quick: true);
            torchError ??= peer.Error;
            rounds.Add((f, v, peer.Median("W4-fwd-bwd")));
        }
        static double Mid(IEnumerable<double> xs) { var l = xs.Order().ToList(); return l[l.Count / 2]; }
        var w4fwd = Mid(rounds.Select(r => r.Fwd));
        var w4vag = Mid(rounds.Select(r => r.Vag));
        var torchFb = rounds.All(r => r.Torch is not null) ? Mid(rounds.Select(r => r.Torch!.Value)) : (double?)null;
        var perRound = string.Join("; ", rounds.Select(r => FormattableString.Invariant($"{r.Vag:0.0}/{r.Fwd:0.0}={r.Vag / r.Fwd:0.00}x vs PyTorch {r.Torch:0.0}")));
        rows.Add(("W4-AD", $"eager ValueAndGrad of W4's loss, fresh processes, median of 3 rounds ({perRound})", w4vag, "eager forward of the same loss", w4fwd, "ms"));
        rows.Add(("W4-AD-pt", "eager ValueAndGrad of W4's loss (same rounds)", w4vag, torchError is null ? "PyTorch eager forward+backward" : $"PyTorch ({torchError})", torchFb, "ms"));

        var perEx = Vmap(Grad<(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), Tensor, Tensor>((pp, xi, yi) => Loss(pp, xi[TensorIndex.NewAxis], yi[TensorIndex.NewAxis])), inAxes: [null, 0, 0]);
        var g5 = perEx(p0, xb, yb);
        var g0 = Grad<(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), Tensor, Tensor>(Loss)(p0, xb[..1], yb[..1]);
        if (!Np.AllClose(g5.Item1[0], g0.Item1, 1e-4, 1e-5)) { Console.WriteLine("W5 WRONG"); return 1; }
        var w5 = Median(() => perEx(p0, xb, yb).Item6.Ravel()[0].Item<float>(), quick ? 3 : 7);
        rows.Add(("W5", "per-example grads b256, eager Vmap(Grad)", w5, "functorch vmap(grad)", torch.Median("W5"), "ms"));
        var perExJit = Jit(perEx);
        perExJit(p0, xb, yb);
        var w5j = Median(() => perExJit(p0, xb, yb).Item6.Ravel()[0].Item<float>(), quick ? 3 : 7);
        rows.Add(("W5-jit", "per-example grads b256, Jit(Vmap(Grad))", w5j, "functorch vmap(grad)", torch.Median("W5"), "ms"));

        // Dispatch of a cached jitted call with small inputs.
        var small = Jit((Tensor t) => t + 1f);
        var one = Tensor.Scalar(1f);
        for (int i = 0; i < 5000; i++) small(one);
        long alloc0 = GC.GetAllocatedBytesForCurrentThread();
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < 20000; i++) small(one);
        double us = sw.Elapsed.TotalMilliseconds * 1000 / 20000;
        long bytes = (GC.GetAllocatedBytesForCurrentThread() - alloc0) / 20000;
        rows.Add(("dispatch", $"cached jitted call, 1-element input ({bytes} B allocated/call)", us, "", null, "µs"));

        // W6: fresh processes, empty then warm disk cache; the first call of the step (trace, compile or load, run) with
        // tiered compilation (the default) and without it (JX_JIT_TIERED=0), and the time from process start. The
        // first process leaves the kernels and Jx's startup profile in the disk cache.
        foreach (var tiered in new[] { true, false })
        {
            var dir = Path.Combine(Path.GetTempPath(), "jx-w6-" + Guid.NewGuid().ToString("N"));
            var cold = W6Process(dir, tiered);
            var warm = W6Process(dir, tiered);
            string mode = tiered ? "" : ", JX_JIT_TIERED=0";
            string id = tiered ? "W6" : "W6-noTier";
            rows.Add(($"{id}-cold", $"first W4 step call, fresh process, empty disk cache{mode} (from process start: {cold.FromStart:0} ms)", cold.FirstCall, "JAX first call (GPU only)", null, "ms"));
            rows.Add(($"{id}-warm", $"first W4 step call, fresh process, warm disk cache{mode} (from process start: {warm.FromStart:0} ms; startup profile replayed: {(warm.Replayed ? "yes" : "no")})", warm.FirstCall, "", null, "ms"));
            try { Directory.Delete(dir, true); } catch (IOException) { }
        }

        Console.WriteLine();
        Console.WriteLine($"{"workload",-9} {"Jx",10} {"reference",10} {"ratio",7}  what / reference");
        foreach (var r in rows)
            Console.WriteLine($"{r.Id,-9} {r.Jx,8:0.00}{r.Unit,2} {(r.RefMs is double d ? $"{d,8:0.00}{r.Unit,2}" : "       n/a"),10} {(r.RefMs is double d2 ? $"{r.Jx / d2,6:0.00}x" : "      -"),7}  {r.What} / {r.Ref}");
        var outDir = Path.Combine(Program.RepoRoot() ?? ".", "benchmarks", "results");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "jit.json"), JsonSerializer.Serialize(rows.Select(r => new { r.Id, r.What, r.Jx, r.Ref, r.RefMs, r.Unit })));
        return 0;
    }

    private static (double FirstCall, double FromStart, bool Replayed) W6Process(string cacheDir, bool tiered)
    {
        var v = RunChild("W6", ["--w6-child", cacheDir],
            [("JX_CACHE_DIR", cacheDir), ("JX_BENCH_CHILD", "1"), ("JX_JIT_TIERED", tiered ? "1" : "0")]);
        return v is null ? (double.NaN, double.NaN, false) : (v[0], v[1], v[2] == 1);
    }

    private static (double Fwd, double Vag) W4AdProcess(bool quick)
    {
        var v = RunChild("W4AD", quick ? ["--w4ad-child", "--quick"] : ["--w4ad-child"], []);
        return v is null ? (double.NaN, double.NaN) : (v[0], v[3]);
    }

    /// <summary>Runs this benchmark program in a fresh process (`--jit` plus <paramref name="args"/>, with the extra
    /// environment) and returns the numbers on its output line that starts with <paramref name="tag"/>, or null.</summary>
    private static double[]? RunChild(string tag, string[] args, (string Name, string Value)[] env)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { RedirectStandardOutput = true, UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(JitSuite).Assembly.Location);
        psi.ArgumentList.Add("--jit");
        foreach (var a in args) psi.ArgumentList.Add(a);
        foreach (var (name, value) in env) psi.Environment[name] = value;
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(tag + " "));
        return line?[(tag.Length + 1)..].Trim().Split(' ').Select(t => double.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>In a fresh process: W4's eager forward and eager ValueAndGrad, timed alternately.</summary>
    private static int W4AdChild(bool quick)
    {
        Stats.MinWarmupMs = quick ? 300 : 1000;
        var p0 = Init();
        var xb = Random.Normal(Random.Key(7), [256, 784]);
        var yb = Random.Randint(Random.Key(8), [256], 0, 10);
        var eagerVag = ValueAndGrad<(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor), Tensor, Tensor>(Loss);
        var (vl, _) = eagerVag(p0, xb, yb);
        if (Math.Abs(vl.Item<float>() - Loss(p0, xb, yb).Item<float>()) > 1e-5) { Console.WriteLine("W4-AD WRONG"); return 1; }
        var (f, v) = Stats.Paired(() => Loss(p0, xb, yb).Item<float>(), () => eagerVag(p0, xb, yb).Item1.Item<float>(), quick ? 21 : 61);
        Console.WriteLine(FormattableString.Invariant($"W4AD {f.MedianMs:0.000} {f.MinMs:0.000} {f.MaxMs:0.000} {v.MedianMs:0.000} {v.MinMs:0.000} {v.MaxMs:0.000}"));
        return 0;
    }

    /// <summary>In a fresh process: the time of the first call of W4's jitted step (tracing, compiling or loading from
    /// the disk cache, running, reading the loss), and the time from process start to that result.</summary>
    private static int W6Child()
    {
        var p0 = Init();
        var z = Tree.Map(t => Np.ZerosLike(t), p0);
        var xb = Random.Normal(Random.Key(7), [256, 784]);
        var yb = Random.Randint(Random.Key(8), [256], 0, 10);
        var step = Jit(MakeStep());
        var sw = Stopwatch.StartNew();
        var (_, loss) = step((p0, z, z, Tensor.Scalar(0f)), xb, yb);
        loss.Item<float>();
        double firstCall = sw.Elapsed.TotalMilliseconds;
        var fromStart = DateTime.Now - Process.GetCurrentProcess().StartTime;
        // Let a background compile finish (and write the disk cache) before the process exits. The disk cache a later
        // process finds then holds the kernels and Jx's startup profile (the methods this process compiled before its
        // first C# compile; see StartupProfile).
        _ = step.Lower((p0, z, z, Tensor.Scalar(0f)), xb, yb);
        Console.WriteLine(FormattableString.Invariant($"W6 {firstCall:0.0} {fromStart.TotalMilliseconds:0.0} {(StartupProfile.Replayed ? 1 : 0)}"));
        return 0;
    }
}
