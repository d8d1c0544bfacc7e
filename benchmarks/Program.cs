using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Jx.Benchmarks;

/// <summary>Entry point: <c>dotnet run -c Release --project benchmarks -- [--quick] [--bdn ...]</c>.
/// See benchmarks/README.md.</summary>
internal static class Program
{
    private sealed class Options
    {
        public bool Quick;
        public bool Bdn;
        public bool NoTorch;
        public bool Jaxpr;
        public int Threads = 2;
        public string? Out;
        public string? TorchScript;
        public double WaitQuiet;
        public HashSet<string>? Only;
        public int? RetriesArg;
        public int Retries => RetriesArg ?? (Quick ? 0 : 2);
        public bool Wants(string id) => Only is null || Only.Contains(id);
        public List<string> BdnArgs = [];
    }

    private static int Main(string[] argv)
    {
        // Timed workloads measure compiled code: no interpreted first calls while a program compiles (W6 measures
        // tiered compilation itself, in child processes with their own settings).
        if (!argv.Contains("--w6-child")) JitOptions.Tiered = false;
        if (argv.Contains("--jit")) return JitSuite.Run(argv.Where(a => a != "--jit").ToArray());
        if (argv.Contains("--scan")) return ScanSuite.Run(argv.Where(a => a != "--scan").ToArray());
        Options o;
        try { o = Parse(argv); }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }

        // Jx (the thread pool and KernelUtil read Environment.ProcessorCount) and OpenBLAS (which reads
        // OPENBLAS_NUM_THREADS when it loads) take their thread counts from the environment at start-up,
        // so when it does not say --threads, the benchmark starts itself again with it set.
        string n = o.Threads.ToString();
        if (Environment.GetEnvironmentVariable("JX_BENCH_CHILD") is null &&
            (Environment.ProcessorCount != o.Threads || Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") != n))
            return Relaunch(argv, n);

        if (o.Bdn) return BdnSuites.Run(o.BdnArgs, o.Threads);
        if (o.Jaxpr) return PrintJaxprs();
        return RunTable(o);
    }

    private const string Usage =
        "usage: dotnet run -c Release --project benchmarks -- [--quick] [--threads N] [--no-torch] [--torch-script PATH] [--out FILE.json] [--wait-quiet SECONDS] [--only W1,W2,W3,W7] [--retries N]\n" +
        "       dotnet run -c Release --project benchmarks -- --jaxpr   (prints what each Jx form runs, as a jaxpr)\n" +
        "       dotnet run -c Release --project benchmarks -- --scan [--quick] [--steps N]   (control flow: RNN over Lax.Scan)\n" +
        "       dotnet run -c Release --project benchmarks -- --bdn [BenchmarkDotNet arguments, e.g. --filter *W7*]";

    private static Options Parse(string[] argv)
    {
        var o = new Options();
        for (int i = 0; i < argv.Length; i++)
        {
            string a = argv[i];
            if (o.Bdn) { o.BdnArgs.Add(a); continue; }
            string Next() => i + 1 < argv.Length ? argv[++i] : throw new ArgumentException($"{a} needs a value");
            switch (a)
            {
                case "--quick": o.Quick = true; break;
                case "--bdn": o.Bdn = true; break;
                case "--no-torch": o.NoTorch = true; break;
                case "--jaxpr": o.Jaxpr = true; break;
                case "--threads":
                    o.Threads = int.TryParse(Next(), out var t) && t > 0 ? t : throw new ArgumentException("--threads needs a positive integer");
                    break;
                case "--out": o.Out = Next(); break;
                case "--torch-script": o.TorchScript = Next(); break;
                case "--retries":
                    o.RetriesArg = int.TryParse(Next(), out var rr) && rr >= 0 ? rr : throw new ArgumentException("--retries needs a count ≥ 0");
                    break;
                case "--only":
                    o.Only = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(x => x.ToUpperInvariant()).ToHashSet();
                    if (o.Only.Except(["W1", "W2", "W3", "W7"]).FirstOrDefault() is string bad) throw new ArgumentException($"--only: unknown workload '{bad}' (W1, W2, W3, W7)");
                    break;
                case "--wait-quiet":
                    o.WaitQuiet = double.TryParse(Next(), System.Globalization.CultureInfo.InvariantCulture, out var w) && w >= 0 ? w : throw new ArgumentException("--wait-quiet needs seconds");
                    break;
                case "-h" or "--help": throw new ArgumentException("");
                default: throw new ArgumentException($"unknown argument '{a}'");
            }
        }
        return o;
    }

    private static int Relaunch(string[] argv, string threads)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(Program).Assembly.Location);
        foreach (var a in argv) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_PROCESSOR_COUNT"] = threads;
        psi.Environment["OPENBLAS_NUM_THREADS"] = threads;
        psi.Environment["JX_BENCH_CHILD"] = "1";
        psi.Environment["JX_BENCH_NPROC"] = Environment.ProcessorCount.ToString();
        using var p = Process.Start(psi)!;
        p.WaitForExit();
        return p.ExitCode;
    }

    /// <summary>The jaxpr of each Jx form: the primitives that eager mode runs one by one, each a full pass over its
    /// operands (the inputs are splats, so nothing large is allocated).</summary>
    private static int PrintJaxprs()
    {
        var x = Np.Zeros(new Shape(Sizes.W1));
        var m = Np.Zeros(new Shape(Sizes.W2, Sizes.W2));
        var a = Np.Zeros(new Shape(Sizes.W3, Sizes.W3));
        var forms = new (string Name, ClosedJaxpr Jaxpr)[]
        {
            ("W1 (JxForms.Gelu)", Jax.MakeJaxpr<Tensor, Tensor>(JxForms.Gelu)(x)),
            ("W2 (Nn.LogSumExp(m, 1))", Jax.MakeJaxpr<Tensor, Tensor>(JxForms.LogSumExpRows)(m)),
            ("W3 (Np.Matmul)", Jax.MakeJaxpr<Tensor, Tensor, Tensor>(JxForms.Matmul)(a, a)),
            ("W7 (Np.Add)", Jax.MakeJaxpr<Tensor, Tensor, Tensor>(Np.Add)(Np.Zeros(new Shape(1)), Np.Zeros(new Shape(1)))),
        };
        foreach (var (name, j) in forms)
        {
            Console.WriteLine($"{name}: {j.Jaxpr.Eqns.Count} equations");
            Console.WriteLine(j);
            Console.WriteLine();
        }
        return 0;
    }

    /// <summary>The directory that holds Jx.sln, searched upward from the working directory and from the binary.</summary>
    public static string? RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "Jx.sln"))) return d.FullName;
        return null;
    }

    private static int RunTable(Options o)
    {
        if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200;
        var total = Stopwatch.StartNew();
        var root = RepoRoot();
        int threads = o.Threads;
        bool quick = o.Quick;
        // Repetitions: heavy workloads (≥ 100 ms) and light ones (the hand-fused loops, W7).
        int heavyWarm = quick ? 1 : 2, heavyReps = quick ? 5 : 15;
        int lightWarm = quick ? 2 : 5, lightReps = quick ? 9 : 31;
        Stats.MinWarmupMs = quick ? 300 : 1000;
        var foreign = new JsonObject();
        // Each phase (a workload, or the PyTorch peer) records how much CPU other processes took while it ran. A phase
        // above 10% runs again (up to --retries times) and the least disturbed attempt is kept; with --wait-quiet,
        // each attempt first waits for a quiet moment.
        void RunPhase(string id, Func<Action> body)
        {
            Action? best = null;
            double bestShare = double.PositiveInfinity;
            for (int attempt = 0; ; attempt++)
            {
                if (o.WaitQuiet > 0)
                {
                    var q = CpuLoad.WaitQuiet(o.WaitQuiet);
                    if (q is double qq && qq >= 0.05) AnsiConsole.MarkupLine($"  [yellow]still busy after {o.WaitQuiet:0} s: other processes use {qq:P0} of the CPUs[/]");
                }
                var start = CpuLoad.Snapshot();
                var publish = body();
                Collect();
                var share = CpuLoad.Foreign(start, CpuLoad.Snapshot());
                if (best is null || (share ?? 0) < bestShare) (best, bestShare) = (publish, share ?? 0);
                if (share is not double sh || sh <= 0.10 || attempt >= o.Retries) break;
                AnsiConsole.MarkupLine($"  [yellow]{id}: other processes took {sh:P0} of the CPUs; running it again ({attempt + 1}/{o.Retries}) …[/]");
            }
            best();
            foreign[id] = Math.Round(bestShare, 3);
        }

        var meta = Meta(o, root);
        if (typeof(Tensor).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false) is [DebuggableAttribute { IsJITOptimizerDisabled: true }, ..])
            AnsiConsole.MarkupLine("[red]Jx.Core was built without optimizations (Debug): run with -c Release for numbers worth recording.[/]");
        AnsiConsole.MarkupLine($"[bold]Jx benchmarks[/] ({(quick ? "quick" : "full")} mode) — {Markup.Escape(meta["cpu"]!.ToString())}, " +
            $"{Environment.ProcessorCount} threads, BLAS: {Markup.Escape(Gemm.Backend)}, Vector512 hardware: {Vector512.IsHardwareAccelerated}");
        if (o.WaitQuiet > 0) AnsiConsole.MarkupLine($"Before each phase: waiting up to {o.WaitQuiet:0} s for a 2 s window in which other processes use < 5% of the CPUs.");

        var rows = new List<Row>();
        var references = new Dictionary<string, Stats>();
        var checks = new JsonObject();
        bool anyWrong = false;

        // Each workload: correctness checks first, then timings; its data is dropped before the next one.
        const string w1Name = "W1 tanh-GELU 16M, eager Np ops";
        const string w2Name = "W2 row LogSumExp 4096², eager Nn.LogSumExp";
        Stats? jxW1 = null, jxW2 = null, jxW3Blas = null, jxW3Man = null, jxW7 = null;
        Check.Result? w1Ok = null, w2Ok = null, w3BlasOk = null, w3ManOk = null, w7Ok = null;
        List<Breakdown.Stage> w1Breakdown = [], w3Breakdown = [], w7Breakdown = [];
        var w1Rows = new List<Row>();
        var w2Rows = new List<Row>();

        // A phase body measures into its own locals and returns the action that publishes them, so that RunPhase can
        // keep the attempt that other processes disturbed least.
        if (o.Wants("W1")) RunPhase("W1", () =>
        {
            AnsiConsole.MarkupLine("W1: tanh-GELU over 16M float32 …");
            var x1 = Data.Normal(Sizes.W1, seed: 1);
            var tx1 = Tensor.FromArray(x1);
            var yHand = new float[Sizes.W1];
            var tmp = new float[Sizes.W1];
            var yTp = new float[Sizes.W1];
            HandWritten.GeluFused(x1, yHand, threads);
            HandWritten.GeluTensorPrimitives(x1, tmp, yTp, threads);
            var yJx = JxForms.Gelu(tx1).ToArray<float>();
            var handOk = Check.AgainstExact("hand-fused W1 vs float64", yHand, i => HandWritten.GeluExact(x1[i]), 7, 1e-5, 1e-6);
            var tpOk = Check.AgainstExact("TensorPrimitives W1 vs float64", yTp, i => HandWritten.GeluExact(x1[i]), 7, 1e-5, 1e-6);
            var ok = Check.And(Check.AllClose("Jx W1 vs hand-fused", yJx, yHand, 1e-5, 1e-6),
                               Check.AgainstExact("Jx W1 vs float64", yJx, i => HandWritten.GeluExact(x1[i]), 7, 1e-5, 1e-6));
            yJx = null;
            Stats? hand = handOk.Ok ? Stats.Of(() => HandWritten.GeluFused(x1, yHand, threads), lightWarm, lightReps) : null;
            Stats? tp = tpOk.Ok ? Stats.Of(() => HandWritten.GeluTensorPrimitives(x1, tmp, yTp, threads), lightWarm, lightReps) : null;
            Stats? jx = ok.Ok ? Stats.Of(() => JxForms.Gelu(tx1), heavyWarm, heavyReps) : null;
            AnsiConsole.MarkupLine("W1: per-op breakdown …");
            List<Breakdown.Stage> bd = ok.Ok ? Breakdown.W1(x1, tx1, threads, quick ? 3 : 7) : [];
            x1 = null!; tx1 = null!; yHand = null!; tmp = null!; yTp = null!; // captured: release before returning
            return () =>
            {
                checks["W1 hand-fused vs float64"] = handOk.ToString();
                checks["W1 TensorPrimitives vs float64"] = tpOk.ToString();
                checks["W1 Jx vs hand-fused and float64"] = ok.ToString();
                if (hand is not null) references["W1 hand-fused Vector512"] = hand;
                if (tp is not null) references["W1 TensorPrimitives unfused"] = tp;
                anyWrong |= !ok.Ok || !handOk.Ok || !tpOk.Ok;
                (jxW1, w1Ok, w1Breakdown) = (jx, ok, bd);
                w1Rows.Add(new Row("W1", w1Name, jx, "ms", $"hand-fused Vector512 C# ({threads} thr)", hand, handOk.Ok ? null : handOk.ToString(), ok));
                w1Rows.Add(new Row("W1", w1Name, jx, "ms", $"TensorPrimitives unfused ({threads} thr)", tp, tpOk.Ok ? null : tpOk.ToString(), ok));
            };
        });

        if (o.Wants("W2")) RunPhase("W2", () =>
        {
            AnsiConsole.MarkupLine("W2: row-wise LogSumExp of 4096×4096 …");
            int r2 = Sizes.W2;
            var m2 = Data.Normal(r2 * r2, seed: 2);
            var tm2 = Tensor.FromArray(m2, new Shape(r2, r2));
            var lHand = new float[r2];
            HandWritten.LogSumExpRows(m2, r2, r2, lHand, threads);
            var lJx = JxForms.LogSumExpRows(tm2).ToArray<float>();
            var handOk = Check.AgainstExact("hand-fused W2 vs float64", lHand, r => HandWritten.LogSumExpExact(m2.AsSpan(r * r2, r2)), 3, 1e-5, 1e-6);
            var ok = Check.And(Check.AllClose("Jx W2 vs hand-fused", lJx, lHand, 1e-5, 1e-6),
                               Check.AgainstExact("Jx W2 vs float64", lJx, r => HandWritten.LogSumExpExact(m2.AsSpan(r * r2, r2)), 3, 1e-5, 1e-6));
            Stats? hand = handOk.Ok ? Stats.Of(() => HandWritten.LogSumExpRows(m2, r2, r2, lHand, threads), lightWarm, lightReps) : null;
            Stats? jx = ok.Ok ? Stats.Of(() => JxForms.LogSumExpRows(tm2), heavyWarm, heavyReps) : null;
            m2 = null!; tm2 = null!;
            return () =>
            {
                checks["W2 hand-fused vs float64"] = handOk.ToString();
                checks["W2 Jx vs hand-fused and float64"] = ok.ToString();
                if (hand is not null) references["W2 hand-fused Vector512"] = hand;
                anyWrong |= !ok.Ok || !handOk.Ok;
                (jxW2, w2Ok) = (jx, ok);
                w2Rows.Add(new Row("W2", w2Name, jx, "ms", $"hand-fused Vector512 C# ({threads} thr)", hand, handOk.Ok ? null : handOk.ToString(), ok));
            };
        });

        if (o.Wants("W3")) RunPhase("W3", () =>
        {
            AnsiConsole.MarkupLine("W3: matmul 2048³ float32 (BLAS, then managed kernel) …");
            int n3 = Sizes.W3;
            var a3 = Data.Normal(n3 * n3, seed: 3);
            var b3 = Data.Normal(n3 * n3, seed: 4);
            var ta3 = Tensor.FromArray(a3, new Shape(n3, n3));
            var tb3 = Tensor.FromArray(b3, new Shape(n3, n3));
            Stats? blas = null, managed = null;
            Check.Result blasOk, manOk;
            try
            {
                if (Gemm.UsingBlas)
                {
                    Gemm.ForceManaged = false;
                    blasOk = Check.Matmul("Jx W3 (BLAS)", a3, b3, JxForms.Matmul(ta3, tb3).ToArray<float>(), n3);
                    blas = blasOk.Ok ? Stats.Of(() => JxForms.Matmul(ta3, tb3), heavyWarm, heavyReps) : null;
                }
                else blasOk = new Check.Result(false, 0, $"no system BLAS: {Gemm.Backend}");
                Gemm.ForceManaged = true;
                manOk = Check.Matmul("Jx W3 (managed)", a3, b3, JxForms.Matmul(ta3, tb3).ToArray<float>(), n3);
                managed = manOk.Ok ? Stats.Of(() => JxForms.Matmul(ta3, tb3), heavyWarm, quick ? 3 : heavyReps) : null;
            }
            finally { Gemm.ForceManaged = false; }
            AnsiConsole.MarkupLine("W3: breakdown …");
            List<Breakdown.Stage> bd = manOk.Ok && blasOk.Ok ? Breakdown.W3(a3, b3, ta3, tb3, n3, quick ? 3 : 7) : [];
            a3 = null!; b3 = null!; ta3 = null!; tb3 = null!;
            return () =>
            {
                checks["W3 BLAS vs float64 (error bound)"] = blasOk.ToString();
                checks["W3 managed vs float64 (error bound)"] = manOk.ToString();
                anyWrong |= !manOk.Ok || (Gemm.UsingBlas && !blasOk.Ok);
                (jxW3Blas, jxW3Man, w3BlasOk, w3ManOk, w3Breakdown) = (blas, managed, blasOk, manOk, bd);
            };
        });

        if (o.Wants("W7")) RunPhase("W7", () =>
        {
            AnsiConsole.MarkupLine("W7: eager dispatch, 10,000 adds of 1-element tensors …");
            var s1 = Tensor.FromArray(new[] { 1f });
            var s2 = Tensor.FromArray(new[] { 1f });
            var value = JxForms.Adds(s1, s2, 1).ToArray<float>();
            var ok = value.Length == 1 && value[0] == 2f
                ? new Check.Result(true, 0, "")
                : new Check.Result(false, double.PositiveInfinity, $"1 + 1 gave [{string.Join(", ", value)}]");
            Stats? jx = ok.Ok ? Stats.Of(() => JxForms.Adds(s1, s2, Sizes.W7), lightWarm, lightReps).Per(Sizes.W7 / 1000.0) : null; // µs per op
            AnsiConsole.MarkupLine("W7: stopwatch breakdown of one add …");
            var bd = Breakdown.W7(quick);
            return () =>
            {
                checks["W7 1 + 1 = 2"] = ok.ToString();
                anyWrong |= !ok.Ok;
                (jxW7, w7Ok, w7Breakdown) = (jx, ok, bd);
            };
        });

        double jxSeconds = total.Elapsed.TotalSeconds; // includes --wait-quiet waits

        // ---------------- PyTorch peer (after Jx: never concurrently) ----------------
        TorchPeer? torch = null;
        if (!o.NoTorch)
        {
            AnsiConsole.MarkupLine($"PyTorch peer ({threads} threads) …");
            RunPhase("PyTorch", () =>
            {
                var t = TorchPeer.Run(o.TorchScript, root, threads, quick);
                return () => torch = t;
            });
        }
        string torchName = torch?.Version is string v ? $"PyTorch {v} eager ({threads} thr)" : $"PyTorch eager ({threads} thr)";
        string torchWhy = o.NoTorch ? "skipped (--no-torch)" : torch?.Error ?? "not reported";
        Stats? TorchStats(string id, double scale = 1)
        {
            if (torch?.Median(id) is not double med) return null;
            var sp = torch.Spread(id);
            return new Stats(med * scale, (sp?.Min ?? med) * scale, (sp?.Max ?? med) * scale, quick ? 3 : 10);
        }
        var tW1 = TorchStats("W1");
        var tW2 = TorchStats("W2");
        var tW3 = TorchStats("W3");
        var tW7 = TorchStats("W7", 1000.0 / Sizes.W7); // ms per 10,000 adds → µs per add

        if (o.Wants("W1")) rows.Add(new Row("W1", w1Name, jxW1, "ms", torchName, tW1, tW1 is null ? torchWhy : null, w1Ok));
        rows.AddRange(w1Rows);
        if (o.Wants("W2")) rows.Add(new Row("W2", w2Name, jxW2, "ms", torchName, tW2, tW2 is null ? torchWhy : null, w2Ok));
        rows.AddRange(w2Rows);
        if (o.Wants("W3"))
        {
            rows.Add(new Row("W3", "W3 matmul 2048³, Np.Matmul → OpenBLAS", jxW3Blas, "ms", torchName, tW3, tW3 is null ? torchWhy : null, w3BlasOk, Sizes.W3Flop));
            rows.Add(new Row("W3", "W3 matmul 2048³, Np.Matmul, managed kernel", jxW3Man, "ms", torchName, tW3, tW3 is null ? torchWhy : null, w3ManOk, Sizes.W3Flop));
        }
        if (o.Wants("W7")) rows.Add(new Row("W7", "W7 eager dispatch: Np.Add of [1]+[1]", jxW7, "µs/op", torchName, tW7, tW7 is null ? torchWhy : null, w7Ok));

        var targets = Targets(jxW1, jxW3Blas, jxW3Man, jxW7, tW1, tW3, tW7);

        AnsiConsole.WriteLine();
        Report.PrintTable(rows, $"Jx eager vs references — {(quick ? "quick" : "full")} mode, {threads} threads, medians");
        Report.PrintTargets(targets);
        if (w7Breakdown.Count > 0) Report.PrintBreakdown("W7: where one eager add's time goes", w7Breakdown);
        if (w1Breakdown.Count > 0) Report.PrintBreakdown("W1: the nine eager ops, one by one (median ms)", w1Breakdown);
        if (w3Breakdown.Count > 0) Report.PrintBreakdown("W3: Jx's matmul against the kernels alone (median ms)", w3Breakdown);
        if (foreign.Count > 0)
        {
            var parts = string.Join(", ", foreign.Select(kv => $"{kv.Key} {kv.Value!.GetValue<double>():P0}"));
            bool noisy = foreign.Any(kv => kv.Value!.GetValue<double>() > 0.10);
            AnsiConsole.MarkupLine((noisy ? "[yellow]" : "") + Markup.Escape($"Other processes' share of the CPUs during each phase: {parts}.") +
                (noisy ? " Above 10%: the machine was busy and those numbers are noisy; rerun when it is quiet (--wait-quiet 120).[/]" : ""));
        }

        meta["jx_seconds"] = Math.Round(jxSeconds, 1);
        meta["torch_seconds"] = torch is null ? null : Math.Round(torch.ElapsedS, 1);
        meta["torch_script"] = torch?.Script;
        meta["total_seconds"] = Math.Round(total.Elapsed.TotalSeconds, 1);
        meta["foreign_cpu_share"] = foreign;
        meta["checks"] = checks;
        var json = Report.ToJson(meta, rows, targets, references, torch, w7Breakdown, w1Breakdown, w3Breakdown);
        var outPath = o.Out ?? Path.Combine(root ?? Directory.GetCurrentDirectory(), "benchmarks", "results", "latest.json");
        Report.Write(json, outPath);
        AnsiConsole.MarkupLine($"Wrote [bold]{Markup.Escape(Path.GetFullPath(outPath))}[/] (total {total.Elapsed.TotalSeconds:0.0} s: Jx {jxSeconds:0.0} s, PyTorch {torch?.ElapsedS ?? 0:0.0} s).");
        if (anyWrong) AnsiConsole.MarkupLine("[red]Some results were WRONG and were not timed (see the table).[/]");
        return anyWrong ? 1 : 0;
    }

    private static List<Target> Targets(Stats? w1, Stats? w3Blas, Stats? w3Man, Stats? w7, Stats? tW1, Stats? tW3, Stats? tW7)
    {
        static string R(Stats? jx, Stats? reference) => jx is null || reference is null ? "n/a" : $"{jx.MedianMs / reference.MedianMs:0.00}× PyTorch's time";
        static Target Ratio(string name, string rule, Stats? jx, Stats? reference, double max) =>
            jx is null || reference is null
                ? new Target(name, rule, null, null, "n/a")
                : new Target(name, rule, jx.MedianMs / reference.MedianMs, jx.MedianMs / reference.MedianMs <= max, R(jx, reference));
        return
        [
            new Target("W7 eager dispatch", "≤ 1 µs/op (PyTorch ≈ 3 µs)", w7?.MedianMs, w7 is null ? null : w7.MedianMs <= 1.0,
                w7 is null ? "n/a" : $"{w7.MedianMs:0.00} µs/op" + (tW7 is null ? "" : $" (PyTorch {tW7.MedianMs:0.00} µs/op)")),
            // The same target as a ratio measured in this run (1 µs against PyTorch's ≈ 3 µs), which does not depend
            // on how fast this machine happens to be today.
            Ratio("W7 as a ratio: ≤ 1/3 of PyTorch's per-op time", "Jx/PyTorch ≤ 0.33", w7, tW7, 1.0 / 3),
            Ratio("W1 eager at least as fast as PyTorch eager", "Jx/PyTorch ≤ 1.00", w1, tW1, 1.0),
            Ratio("W3 (BLAS) at least as fast as PyTorch", "Jx/PyTorch ≤ 1.00", w3Blas, tW3, 1.0),
            Ratio("W3 (BLAS) within 10% of PyTorch", "Jx/PyTorch ≤ 1.10", w3Blas, tW3, 1.10),
            Ratio("W3 managed kernel ≥ 50% of PyTorch", "Jx/PyTorch ≤ 2.00 (throughput ≥ 0.5×)", w3Man, tW3, 2.0),
        ];
    }

    private static JsonObject Meta(Options o, string? root)
    {
        string cpu = "unknown";
        try
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? cpu;
        }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
        return new JsonObject
        {
            ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm"),
            ["mode"] = o.Quick ? "quick" : "full",
            ["commit"] = Git(root, "rev-parse --short HEAD"),
            ["cpu"] = cpu,
            ["logical_cpus"] = int.TryParse(Environment.GetEnvironmentVariable("JX_BENCH_NPROC"), out var nproc) ? nproc : Environment.ProcessorCount,
            ["threads"] = o.Threads,
            ["os"] = RuntimeInformation.OSDescription,
            ["dotnet"] = RuntimeInformation.FrameworkDescription,
            ["vector512"] = Vector512.IsHardwareAccelerated,
            ["blas"] = Gemm.Backend,
        };
    }

    private static string? Git(string? root, string args)
    {
        if (root is null) return null;
        try
        {
            var psi = new ProcessStartInfo("git", args) { WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true };
            using var p = Process.Start(psi)!;
            var s = p.StandardOutput.ReadToEnd().Trim();
            p.WaitForExit();
            return p.ExitCode == 0 ? s : null;
        }
        catch (System.ComponentModel.Win32Exception) { return null; }
    }

    private static void Collect()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }
}
