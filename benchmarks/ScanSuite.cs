using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using Spectre.Console;
using static Jx.Transforms;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Jx.Benchmarks;

/// <summary>The control-flow workload (`--scan`, issue 6): an Elman RNN cell h' = tanh(h·Wh + x_t·Wx + b) with batch 32,
/// hidden 64 and input 64, run for 1,000 steps (`--steps N`), loss = Σ_t mean(h_t) (the sum over the steps of the mean
/// of each step's hidden state), h_0 = 0.
/// <list type="bullet">
/// <item>(a) <c>Jit(ValueAndGrad(loss over Lax.Scan))</c>, warm, against (b) what a user writes without Scan: a C# loop
/// that calls the jitted cell, differentiated eagerly with <c>ValueAndGrad</c>. Target: (b)/(a) ≥ 20.</item>
/// <item>(c) <c>Jit(loss over Lax.Scan)</c>, forward only, warm, against (d) the same loop written by hand over float
/// arrays (a register-blocked Vector512 matmul, <c>TensorPrimitives.Tanh</c>, one thread). Target: (c)/(d) ≤ 2.</item>
/// <item>(e) the loss and gradients of (a) written by hand (<see cref="HandRnn"/>: the compiled loop's own product and
/// tanh kernels, nothing else), on one thread and (e2) pipelined over two: what this algorithm costs on this machine,
/// so (b)/(e) is the most any implementation of (a) could show here.</item>
/// </list>
/// Correctness first: the losses of (a), (b) and (c) agree with (d) within 1e-4 relative (and (d) with a float64 loop),
/// and the gradients of (a) and (b) agree within 1e-3 (max |Δ| / max |g| per parameter).</summary>
internal static class ScanSuite
{
    private const int Batch = 32, Hidden = 64, Input = 64;

    /// <summary>One step of the cell.</summary>
    private static Tensor Cell((Tensor Wh, Tensor Wx, Tensor B) p, Tensor h, Tensor x) =>
        Np.Tanh(h.Matmul(p.Wh) + x.Matmul(p.Wx) + p.B);

    /// <summary>Σ_t mean(h_t) over xs [T, batch, input], as one Lax.Scan.</summary>
    private static Tensor ScanLoss((Tensor Wh, Tensor Wx, Tensor B) p, Tensor xs)
    {
        var (_, means) = Lax.Scan((Tensor h, Tensor x) =>
        {
            var n = Cell(p, h, x);
            return (n, n.Mean());
        }, Np.Zeros([Batch, Hidden]), xs);
        return means.Sum();
    }

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int steps = 1000;
        double waitQuiet = 0;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--quick") continue;
            if (args[i] == "--steps" && i + 1 < args.Length && int.TryParse(args[i + 1], out var s) && s > 0) { steps = s; i++; continue; }
            if (args[i] == "--wait-quiet" && i + 1 < args.Length &&
                double.TryParse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture, out var wq) && wq >= 0) { waitQuiet = wq; i++; continue; }
            Console.Error.WriteLine($"unknown or invalid argument '{args[i]}'");
            Console.Error.WriteLine("usage: dotnet run -c Release --project benchmarks -- --scan [--quick] [--steps N] [--wait-quiet SECONDS]");
            return 2;
        }
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
        Stats.MinWarmupMs = quick ? 300 : 1000;
        var total = Stopwatch.StartNew();
        int threads = Environment.ProcessorCount;
        AnsiConsole.MarkupLine($"[bold]Jx control-flow benchmark[/] ({(quick ? "quick" : "full")} mode): Elman RNN, batch {Batch}, hidden {Hidden}, " +
            $"input {Input}, {steps} steps, loss = Σ_t mean(h_t); {threads} threads, BLAS: {Markup.Escape(Gemm.Backend)}, " +
            $"Vector512 hardware: {Vector512.IsHardwareAccelerated}");

        // ---------------- data ----------------
        // Wh scaled so the recurrence contracts (spectral radius ≈ 0.5): float rounding differences do not grow over the steps.
        var whA = Scale(Data.Normal(Hidden * Hidden, 11), 0.5f / MathF.Sqrt(Hidden));
        var wxA = Scale(Data.Normal(Input * Hidden, 12), 1f / MathF.Sqrt(Input));
        var bA = Data.Normal(Hidden, 13).Select(v => 0.2f + 0.1f * v).ToArray(); // positive mean: the loss does not cancel to ~0
        var xsA = Data.Normal(steps * Batch * Input, 14);
        (Tensor Wh, Tensor Wx, Tensor B) p = (Tensor.FromArray(whA, new Shape(Hidden, Hidden)), Tensor.FromArray(wxA, new Shape(Input, Hidden)), Tensor.FromArray(bA, new Shape(Hidden)));
        var xs = Tensor.FromArray(xsA, new Shape(steps, Batch, Input));

        // ---------------- the four forms ----------------
        var gradScan = Jit(ValueAndGrad<(Tensor Wh, Tensor Wx, Tensor B), Tensor>(ScanLoss));                   // (a)
        var cell = Jit<(Tensor Wh, Tensor Wx, Tensor B), Tensor, Tensor, Tensor>(Cell);                          // the jitted cell
        Tensor LoopLoss((Tensor Wh, Tensor Wx, Tensor B) q, Tensor seq)
        {
            var h = Np.Zeros([Batch, Hidden]);
            Tensor acc = Tensor.Scalar(0f);
            for (int t = 0; t < seq.Shape[0]; t++)
            {
                h = cell(q, h, seq[t]);
                acc = acc + h.Mean();
            }
            return acc;
        }
        var gradLoop = ValueAndGrad<(Tensor Wh, Tensor Wx, Tensor B), Tensor>(LoopLoss);                       // (b), eager
        var fwdScan = Jit<(Tensor Wh, Tensor Wx, Tensor B), Tensor, Tensor>(ScanLoss);                           // (c)
        var wcat = whA.Concat(wxA).ToArray();                                                                     // (d): [Wh; Wx]
        var hBuf = new float[Batch * Hidden];
        var hNext = new float[Batch * Hidden];
        float HandLoss() => HandForward(wcat, bA, xsA, steps, hBuf, hNext);
        using var hand = new HandRnn(whA, wxA, bA, xsA, steps);                                                   // (e), (e2)

        // ---------------- correctness (first calls: these include tracing and compiling) ----------------
        AnsiConsole.MarkupLine("Correctness checks (first calls include tracing and compilation) …");
        var sw = Stopwatch.StartNew();
        var (lossA, gA) = gradScan(p, xs);
        float lA = lossA.Item<float>();
        double firstA = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        float lC = fwdScan(p, xs).Item<float>();
        double firstC = sw.Elapsed.TotalMilliseconds;
        sw.Restart();
        var (lossB, gB) = gradLoop(p, xs);
        float lB = lossB.Item<float>();
        double firstB = sw.Elapsed.TotalMilliseconds;
        float lD = HandLoss();
        double lExact = ExactLoss(whA, wxA, bA, xsA, steps);

        var checks = new List<(string What, bool Ok, string Detail)>();
        void Rel(string what, double got, double want, double tol)
        {
            double r = Math.Abs(got - want) / Math.Abs(want);
            checks.Add((what, r <= tol, $"{got:G9} vs {want:G9}: relative difference {r:G3} (tolerance {tol:G1})"));
        }
        Rel("(d) hand-written loss vs float64", lD, lExact, 1e-4);
        Rel("(a) Jit(ValueAndGrad(Scan)) loss vs (d)", lA, lD, 1e-4);
        Rel("(c) Jit(Scan) loss vs (d)", lC, lD, 1e-4);
        Rel("(b) eager loop of the jitted cell, loss vs (d)", lB, lD, 1e-4);
        float lE = hand.Run(twoThreads: false);
        var gE = (Wh: hand.GradWh, Wx: hand.GradWx, B: hand.GradB);
        float lE2 = hand.Run(twoThreads: true);
        Rel("(e) hand-written forward+backward loss vs (d)", lE, lD, 1e-4);
        checks.Add(("(e2) two threads vs (e) one thread: loss and gradients bit for bit",
            lE2 == lE && hand.GradWh.SequenceEqual(gE.Wh) && hand.GradWx.SequenceEqual(gE.Wx) && hand.GradB.SequenceEqual(gE.B),
            "each gradient is summed by one thread in step order"));
        var (aWh, aWx, aB) = (gA.Wh.ToArray<float>(), gA.Wx.ToArray<float>(), gA.B.ToArray<float>());
        foreach (var (what, a, b) in new[]
                 {
                     ("d loss/d Wh: (a) vs (b)", aWh, gB.Wh.ToArray<float>()), ("d loss/d Wx: (a) vs (b)", aWx, gB.Wx.ToArray<float>()),
                     ("d loss/d b: (a) vs (b)", aB, gB.B.ToArray<float>()),
                     ("d loss/d Wh: (e) vs (a)", gE.Wh, aWh), ("d loss/d Wx: (e) vs (a)", gE.Wx, aWx), ("d loss/d b: (e) vs (a)", gE.B, aB),
                 })
        {
            double maxG = b.Max(v => Math.Abs((double)v)), maxD = a.Zip(b, (u, v) => Math.Abs((double)u - v)).Max();
            double r = maxD / maxG;
            checks.Add(($"gradient {what}", r <= 1e-3 && maxG > 0, $"max |Δ| {maxD:G3}, max |g| {maxG:G3}: relative {r:G3} (tolerance 1e-3)"));
        }
        bool allOk = checks.All(c => c.Ok);
        foreach (var c in checks)
            AnsiConsole.MarkupLine((c.Ok ? "  ok   " : "  [red]FAIL[/] ") + Markup.Escape($"{c.What}: {c.Detail}"));
        if (!allOk)
        {
            AnsiConsole.MarkupLine("[red]FAIL: results disagree; nothing is timed.[/]");
            return 1;
        }

        // ---------------- timings (warm) ----------------
        if (waitQuiet > 0)
        {
            AnsiConsole.MarkupLine($"Waiting up to {waitQuiet:0} s for other processes to leave the CPUs idle …");
            var q = CpuLoad.WaitQuiet(waitQuiet);
            if (q is double qq && qq >= 0.05) AnsiConsole.MarkupLine($"  [yellow]still busy: other processes use {qq:P0} of the CPUs[/]");
        }
        var load0 = CpuLoad.Snapshot();
        int repsA = quick ? 5 : 15, repsB = quick ? 3 : 7, repsC = quick ? 7 : 21, repsD = quick ? 9 : 31;
        AnsiConsole.MarkupLine("(a) Jit(ValueAndGrad(loss over Lax.Scan)) …");
        var (sA, sACpu) = Time(() => gradScan(p, xs).Value.Item<float>(), 1, repsA);
        AnsiConsole.MarkupLine("(b) eager ValueAndGrad of a C# loop over the jitted cell …");
        var (sB, sBCpu) = Time(() => gradLoop(p, xs).Value.Item<float>(), 1, repsB);
        AnsiConsole.MarkupLine("(b') forward only: a C# loop over the jitted cell …");
        var (sB0, sB0Cpu) = Time(() => LoopLoss(p, xs).Item<float>(), 1, repsB);
        AnsiConsole.MarkupLine("(c) Jit(loss over Lax.Scan), forward …");
        var (sC, sCCpu) = Time(() => fwdScan(p, xs).Item<float>(), 2, repsC);
        AnsiConsole.MarkupLine("(d) hand-written forward (Vector512 + TensorPrimitives, 1 thread) …");
        var (sD, sDCpu) = Time(() => HandLoss(), 3, repsD);
        AnsiConsole.MarkupLine("(e) hand-written forward+backward (1 thread), (e2) the same pipelined over 2 threads …");
        var (sE, sECpu) = Time(() => hand.Run(twoThreads: false), 2, repsA);
        var (sE2, _) = Time(() => hand.Run(twoThreads: true), 2, repsA);
        AnsiConsole.MarkupLine("Per-step pieces …");
        var pieces = Pieces(p, xs, cell, wcat, bA, xsA, quick);
        double foreign = CpuLoad.Foreign(load0, CpuLoad.Snapshot()) ?? double.NaN;

        // ---------------- report ----------------
        var ok = new Check.Result(true, 0, "");
        string stepsText = $"{steps} steps";
        var rows = new List<Row>
        {
            new("S-a", $"(a) Jit(ValueAndGrad(Scan)) fwd+bwd, {stepsText}", sA, "ms", "(b) eager ValueAndGrad of a C# loop over Jit(cell)", sB, null, ok),
            new("S-b0", $"(b') C# loop over Jit(cell), forward only, {stepsText}", sB0, "ms", "(c) Jit(Scan) forward", sC, null, ok),
            new("S-c", $"(c) Jit(Scan) forward, {stepsText}", sC, "ms", "(d) hand-written Vector512 C# (1 thread)", sD, null, ok),
            new("S-e", $"(a) Jit(ValueAndGrad(Scan)) fwd+bwd, {stepsText}", sA, "ms", "(e) hand-written fwd+bwd, same kernels (1 thread)", sE, null, ok),
            new("S-e2", $"(a) Jit(ValueAndGrad(Scan)) fwd+bwd, {stepsText}", sA, "ms", "(e2) hand-written fwd+bwd pipelined (2 threads)", sE2, null, ok),
        };
        double speedup = sB.MedianMs / sA.MedianMs, fwdRatio = sC.MedianMs / sD.MedianMs;
        var targets = new List<Target>
        {
            new("Jit(Grad(Scan)) vs Grad of a C# loop over the jitted cell", "(b)/(a) ≥ 20", speedup, speedup >= 20,
                $"(b)/(a) = {speedup:0.0}× ((a) {sA.MedianMs:0.0} ms, (b) {sB.MedianMs:0.0} ms)"),
            new("Jit(Scan) forward vs the hand-written loop", "(c)/(d) ≤ 2", fwdRatio, fwdRatio <= 2,
                $"(c)/(d) = {fwdRatio:0.00}× ((c) {sC.MedianMs:0.00} ms, (d) {sD.MedianMs:0.00} ms)"),
        };
        AnsiConsole.WriteLine();
        Report.PrintTable(rows, $"Control flow: Elman RNN b{Batch} h{Hidden} i{Input}, {stepsText} — {(quick ? "quick" : "full")} mode, {threads} threads, medians");
        Report.PrintTargets(targets);
        Report.PrintBreakdown("What one step is made of (each piece timed alone, medians)", pieces);
        // One step of (a) has five products of this size (forward h·Wh and x_t·Wx; backward δ·Whᵀ, h_{t−1}ᵀ·δ, x_tᵀ·δ):
        // their time alone, in cache, on the kernel the loop runs them on (SmallGemm where it serves them, else BLAS),
        // is what (a) cannot go below on this machine.
        double gemmNs = (pieces.FirstOrDefault(g => g.Name.Contains("SmallGemm")) ?? pieces.First(g => g.Name.Contains("Gemm.Multiply"))).Value;
        double floorMs = 5 * steps * gemmNs / 1e6;
        AnsiConsole.MarkupLine(Markup.Escape(FormattableString.Invariant(
            $"Arithmetic floor of (a): 5 products of 32×64×64 per step × {steps} steps × {gemmNs / 1000:0.00} µs = {floorMs:0.0} ms; (b) / floor = {sB.MedianMs / floorMs:0.0}× (20× needs (a) ≤ {sB.MedianMs / 20:0.0} ms).")));
        AnsiConsole.MarkupLine(Markup.Escape(FormattableString.Invariant(
            $"What this machine allows: (b)/(e) = {sB.MedianMs / sE.MedianMs:0.0}× and (b)/(e2) = {sB.MedianMs / sE2.MedianMs:0.0}× — the hand-written forward+backward ((e) {sE.MedianMs:0.0} ms on 1 thread, (e2) {sE2.MedianMs:0.0} ms on 2) against (b).")));
        AnsiConsole.MarkupLine(Markup.Escape(FormattableString.Invariant(
            $"First calls (trace + compile + run): (a) {firstA:0} ms, (c) {firstC:0} ms, (b) {firstB:0} ms (the jitted cell's compile + one eager ValueAndGrad).")));
        if (sACpu is double ca && sBCpu is double cb && sCCpu is double cc && sDCpu is double cd && sB0Cpu is double cb0)
            AnsiConsole.MarkupLine(Markup.Escape(FormattableString.Invariant(
                $"Thread CPU time of the calling thread (medians; less sensitive to other processes, but blind to work on other threads): (a) {ca:0.0} ms, (b) {cb:0.0} ms, (b') {cb0:0.0} ms, (c) {cc:0.00} ms, (d) {cd:0.00} ms; (b)/(a) = {cb / ca:0.0}×, (c)/(d) = {cc / cd:0.00}×.")));
        AnsiConsole.MarkupLine(Markup.Escape(FormattableString.Invariant(
            $"Per step: (a) {sA.MedianMs * 1000 / steps:0.0} µs, (b) {sB.MedianMs * 1000 / steps:0.0} µs, (b') {sB0.MedianMs * 1000 / steps:0.0} µs, (c) {sC.MedianMs * 1000 / steps:0.0} µs, (d) {sD.MedianMs * 1000 / steps:0.00} µs.")));
        bool noisy = foreign > 0.10;
        AnsiConsole.MarkupLine((noisy ? "[yellow]" : "") + Markup.Escape(FormattableString.Invariant(
            $"Other processes' share of the CPUs while the timings ran: {foreign:P0}.")) + (noisy ? " Above 10%: numbers are noisy.[/]" : ""));

        var json = new JsonObject
        {
            ["meta"] = new JsonObject
            {
                ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm"),
                ["mode"] = quick ? "quick" : "full",
                ["steps"] = steps, ["batch"] = Batch, ["hidden"] = Hidden, ["input"] = Input,
                ["loss"] = "sum over steps of mean(h_t)",
                ["threads"] = threads, ["blas"] = Gemm.Backend, ["vector512"] = Vector512.IsHardwareAccelerated,
                ["foreign_cpu_share"] = double.IsNaN(foreign) ? null : Math.Round(foreign, 3),
                ["first_call_ms"] = new JsonObject { ["a"] = Math.Round(firstA, 1), ["b"] = Math.Round(firstB, 1), ["c"] = Math.Round(firstC, 1) },
                ["total_seconds"] = Math.Round(total.Elapsed.TotalSeconds, 1),
            },
            ["timings_ms"] = new JsonObject
            {
                ["a_jit_grad_scan"] = Report.StatsJson(sA), ["b_eager_grad_loop_of_jitted_cell"] = Report.StatsJson(sB),
                ["b0_loop_of_jitted_cell_forward"] = Report.StatsJson(sB0), ["c_jit_scan_forward"] = Report.StatsJson(sC),
                ["d_hand_written_forward"] = Report.StatsJson(sD),
                ["e_hand_written_forward_backward_1_thread"] = Report.StatsJson(sE), ["e2_hand_written_forward_backward_2_threads"] = Report.StatsJson(sE2),
            },
            ["thread_cpu_ms"] = new JsonObject
            {
                ["a"] = R(sACpu), ["b"] = R(sBCpu), ["b0"] = R(sB0Cpu), ["c"] = R(sCCpu), ["d"] = R(sDCpu), ["e"] = R(sECpu),
            },
            ["a_arithmetic_floor_ms"] = Math.Round(floorMs, 2),
            ["pieces_ns"] = new JsonArray(pieces.Select(g => (JsonNode)new JsonObject { ["piece"] = g.Name.Trim(), ["ns"] = Math.Round(g.Value, 1), ["thread_cpu_ns"] = g.ThreadCpu is double c ? Math.Round(c, 1) : null, ["bytes_per_call"] = g.BytesPerCall }).ToArray()),
            ["checks"] = new JsonArray(checks.Select(c => (JsonNode)new JsonObject { ["check"] = c.What, ["ok"] = c.Ok, ["detail"] = c.Detail }).ToArray()),
            ["targets"] = new JsonArray(targets.Select(g => (JsonNode)new JsonObject { ["target"] = g.Name, ["rule"] = g.Rule, ["value"] = g.Value is double v ? Math.Round(v, 4) : null, ["pass"] = g.Pass }).ToArray()),
        };
        var outPath = Path.Combine(Program.RepoRoot() ?? Directory.GetCurrentDirectory(), "benchmarks", "results", "scan.json");
        Report.Write(json, outPath);
        AnsiConsole.MarkupLine($"Wrote [bold]{Markup.Escape(outPath)}[/] (total {total.Elapsed.TotalSeconds:0.0} s).");
        return 0;
    }

    /// <summary>The pieces a step of (a), (c) and (d) is made of, each timed alone in a loop (ns per call, median of 5
    /// rounds, with the calling thread's CPU time and the bytes allocated per call).</summary>
    private static List<Breakdown.Stage> Pieces((Tensor Wh, Tensor Wx, Tensor B) p, Tensor xs, Func<(Tensor Wh, Tensor Wx, Tensor B), Tensor, Tensor, Tensor> cell,
        float[] wcat, float[] b, float[] xsA, bool quick)
    {
        int iters = quick ? 2000 : 10000;
        int steps = xs.Shape[0];
        var h = Np.Tanh(xs[0]);
        var x = xs[1];
        var hA = h.ToArray<float>();
        var c = new float[Batch * Hidden];
        var h1 = new float[Batch * Hidden];
        var h2 = new float[Batch * Hidden];
        var rows = Enumerable.Range(0, steps).Select(_ => h).ToArray();
        var scalars = Enumerable.Range(0, steps).Select(i => Tensor.Scalar((float)i)).ToArray();
        int stackIters = Math.Max(3, iters / steps);
        return
        [
            Piece("ControlFlow.Index0(xs, t): the scan kernel's per-step slice of each xs leaf", iters, () => ControlFlow.Index0(xs, 7), "Lax.Slice + Lax.Squeeze, eager"),
            Piece("Jit(cell)(p, h, x_t): one jitted call of the step", iters, () => cell(p, h, x), "2 dot_general library calls + 1 fused tanh kernel"),
            Piece("Np.Matmul(h, Wh) [32,64]·[64,64], eager", iters, () => h.Matmul(p.Wh), "what a dot_general library step costs"),
            Piece("  Gemm.Multiply 32×64×64 on arrays (BLAS)", iters, () => { Gemm.Multiply(hA, wcat.AsSpan(0, Hidden * Hidden), c, Batch, Hidden, Hidden); return null; }, "the arithmetic alone"),
            .. (SmallGemm.Supports(Batch, Hidden, Hidden, false)
                ? new[] { Piece("  SmallGemm 32×64×64 on arrays", iters, () => { SmallProduct(hA, wcat, c); return null; }, "the kernel the compiled loop's products run on") }
                : []),
            Piece("Np.Tanh(h) [32,64], eager", iters, () => Np.Tanh(h), ""),
            Piece($"Np.Stack of {steps} [32,64] tensors, per tensor", stackIters, () => Np.Stack(rows, 0), $"ys/residual stacking at the end of a scan (÷ {steps})", steps),
            Piece($"Np.Stack of {steps} scalars, per scalar", stackIters, () => Np.Stack(scalars, 0), $"stacking the per-step means (÷ {steps})", steps),
            Piece("(d) one hand-written step", iters, () => HandForward(wcat, b, xsA, 1, h1, h2), "blocked Vector512 matmul + TensorPrimitives.Tanh + sum"),
            Piece("  TensorPrimitives.Tanh on 2048 floats", iters, () => { TP.Tanh(hA, c); return null; }, "the tanh inside (d)"),
        ];
    }

    /// <summary>c = a·w[..64×64] on the compiled loop's product kernel.</summary>
    private static unsafe void SmallProduct(float[] a, float[] w, float[] c)
    {
        fixed (float* pa = a, pw = w, pc = c) SmallGemm.Multiply(pa, false, pw, pc, Batch, Hidden, Hidden, false, default);
    }

    private static Breakdown.Stage Piece(string name, int iters, Func<object?> op, string note, int per = 1)
    {
        long w0 = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(w0).TotalMilliseconds < Math.Min(Stats.MinWarmupMs, 300)) op();
        var ns = new double[5];
        var cpu = new double[5];
        long bytes = 0;
        for (int r = 0; r < ns.Length; r++)
        {
            long b0 = GC.GetAllocatedBytesForCurrentThread();
            long? c0 = ThreadCpu.Nanoseconds();
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < iters; i++) op();
            ns[r] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / iters / per;
            long? c1 = ThreadCpu.Nanoseconds();
            cpu[r] = c0 is long a && c1 is long b ? (double)(b - a) / iters / per : double.NaN;
            bytes = GC.GetAllocatedBytesForCurrentThread() - b0;
        }
        Array.Sort(ns);
        Array.Sort(cpu);
        return new Breakdown.Stage(name, ns[2], "ns/op", (double)bytes / iters / per, note, double.IsNaN(cpu[2]) ? null : cpu[2]);
    }

    private static double? R(double? v) => v is double d ? Math.Round(d, 4) : null;

    /// <summary>Like <see cref="Stats.Of"/> (<see cref="Stats.WarmUp"/>, a full GC, then
    /// <paramref name="reps"/> timed runs), also recording the calling thread's CPU time per run: its median is returned
    /// beside the wall-clock statistics (null where the thread clock is unavailable).</summary>
    private static (Stats Wall, double? CpuMs) Time(Action run, int warmup, int reps)
    {
        Stats.WarmUp(run, warmup);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var wall = new double[reps];
        var cpu = new double[reps];
        bool haveCpu = true;
        for (int i = 0; i < reps; i++)
        {
            long? c0 = ThreadCpu.Nanoseconds();
            long t0 = Stopwatch.GetTimestamp();
            run();
            wall[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            long? c1 = ThreadCpu.Nanoseconds();
            if (c0 is long a && c1 is long b) cpu[i] = (b - a) / 1e6; else haveCpu = false;
        }
        Array.Sort(wall);
        Array.Sort(cpu);
        return (new Stats(wall[reps / 2], wall[0], wall[^1], reps), haveCpu ? cpu[reps / 2] : null);
    }

    private static float[] Scale(float[] a, float s)
    {
        for (int i = 0; i < a.Length; i++) a[i] *= s;
        return a;
    }

    /// <summary>(d): the forward loop by hand. Per step, z = [h, x_t]·[Wh; Wx] + b with the batch in blocks of four rows
    /// and the 64 outputs of a row in four Vector512 accumulators (16 accumulators, each weight row loaded once per
    /// block), then tanh and the mean over the 32×64 block with <see cref="TP"/>. One thread: a step is ~0.5 MFLOP, too
    /// small to split. Returns Σ_t mean(h_t).</summary>
    private static float HandForward(float[] wcat, float[] b, float[] xs, int steps, float[] h, float[] hNext)
    {
        Array.Clear(h);
        float loss = 0;
        ref float w = ref MemoryMarshal.GetArrayDataReference(wcat);
        ref float bias = ref MemoryMarshal.GetArrayDataReference(b);
        var b0 = Vector512.LoadUnsafe(ref bias, 0);
        var b1 = Vector512.LoadUnsafe(ref bias, 16);
        var b2 = Vector512.LoadUnsafe(ref bias, 32);
        var b3 = Vector512.LoadUnsafe(ref bias, 48);
        for (int t = 0; t < steps; t++)
        {
            ref float hr = ref MemoryMarshal.GetArrayDataReference(h);
            ref float xr = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(xs), t * Batch * Input);
            ref float outr = ref MemoryMarshal.GetArrayDataReference(hNext);
            for (int i0 = 0; i0 < Batch; i0 += 4)
            {
                Vector512<float> a00 = b0, a01 = b1, a02 = b2, a03 = b3;
                Vector512<float> a10 = b0, a11 = b1, a12 = b2, a13 = b3;
                Vector512<float> a20 = b0, a21 = b1, a22 = b2, a23 = b3;
                Vector512<float> a30 = b0, a31 = b1, a32 = b2, a33 = b3;
                // h·Wh (weight rows 0..63), then x_t·Wx (weight rows 64..127).
                for (int part = 0; part < 2; part++)
                {
                    ref float src = ref part == 0 ? ref hr : ref xr;
                    int k0 = part == 0 ? 0 : Hidden, kn = part == 0 ? Hidden : Input, ld = part == 0 ? Hidden : Input;
                    for (int k = 0; k < kn; k++)
                    {
                        nuint wo = (nuint)((k0 + k) * Hidden);
                        var w0 = Vector512.LoadUnsafe(ref w, wo);
                        var w1 = Vector512.LoadUnsafe(ref w, wo + 16);
                        var w2 = Vector512.LoadUnsafe(ref w, wo + 32);
                        var w3 = Vector512.LoadUnsafe(ref w, wo + 48);
                        var v0 = Vector512.Create(Unsafe.Add(ref src, (i0 + 0) * ld + k));
                        var v1 = Vector512.Create(Unsafe.Add(ref src, (i0 + 1) * ld + k));
                        var v2 = Vector512.Create(Unsafe.Add(ref src, (i0 + 2) * ld + k));
                        var v3 = Vector512.Create(Unsafe.Add(ref src, (i0 + 3) * ld + k));
                        a00 = Vector512.FusedMultiplyAdd(v0, w0, a00); a01 = Vector512.FusedMultiplyAdd(v0, w1, a01);
                        a02 = Vector512.FusedMultiplyAdd(v0, w2, a02); a03 = Vector512.FusedMultiplyAdd(v0, w3, a03);
                        a10 = Vector512.FusedMultiplyAdd(v1, w0, a10); a11 = Vector512.FusedMultiplyAdd(v1, w1, a11);
                        a12 = Vector512.FusedMultiplyAdd(v1, w2, a12); a13 = Vector512.FusedMultiplyAdd(v1, w3, a13);
                        a20 = Vector512.FusedMultiplyAdd(v2, w0, a20); a21 = Vector512.FusedMultiplyAdd(v2, w1, a21);
                        a22 = Vector512.FusedMultiplyAdd(v2, w2, a22); a23 = Vector512.FusedMultiplyAdd(v2, w3, a23);
                        a30 = Vector512.FusedMultiplyAdd(v3, w0, a30); a31 = Vector512.FusedMultiplyAdd(v3, w1, a31);
                        a32 = Vector512.FusedMultiplyAdd(v3, w2, a32); a33 = Vector512.FusedMultiplyAdd(v3, w3, a33);
                    }
                }
                nuint o = (nuint)(i0 * Hidden);
                a00.StoreUnsafe(ref outr, o); a01.StoreUnsafe(ref outr, o + 16); a02.StoreUnsafe(ref outr, o + 32); a03.StoreUnsafe(ref outr, o + 48);
                o += Hidden;
                a10.StoreUnsafe(ref outr, o); a11.StoreUnsafe(ref outr, o + 16); a12.StoreUnsafe(ref outr, o + 32); a13.StoreUnsafe(ref outr, o + 48);
                o += Hidden;
                a20.StoreUnsafe(ref outr, o); a21.StoreUnsafe(ref outr, o + 16); a22.StoreUnsafe(ref outr, o + 32); a23.StoreUnsafe(ref outr, o + 48);
                o += Hidden;
                a30.StoreUnsafe(ref outr, o); a31.StoreUnsafe(ref outr, o + 16); a32.StoreUnsafe(ref outr, o + 32); a33.StoreUnsafe(ref outr, o + 48);
            }
            TP.Tanh(hNext, hNext);
            loss += TP.Sum(hNext) / (Batch * Hidden);
            (h, hNext) = (hNext, h);
        }
        return loss;
    }

    /// <summary>The same loss in float64, plain loops: checks (d).</summary>
    private static double ExactLoss(float[] wh, float[] wx, float[] b, float[] xs, int steps)
    {
        var h = new double[Batch * Hidden];
        var z = new double[Batch * Hidden];
        double loss = 0;
        for (int t = 0; t < steps; t++)
        {
            for (int i = 0; i < Batch; i++)
                for (int j = 0; j < Hidden; j++)
                {
                    double s = b[j];
                    for (int k = 0; k < Hidden; k++) s += h[i * Hidden + k] * wh[k * Hidden + j];
                    for (int k = 0; k < Input; k++) s += (double)xs[(t * Batch + i) * Input + k] * wx[k * Hidden + j];
                    z[i * Hidden + j] = Math.Tanh(s);
                }
            (h, z) = (z, h);
            loss += h.Sum() / (Batch * Hidden);
        }
        return loss;
    }
}
