using System.Diagnostics;

namespace Jx.Benchmarks;

/// <summary>Median and spread of repeated timings of one workload, in milliseconds per run.</summary>
internal sealed record Stats(double MedianMs, double MinMs, double MaxMs, int Reps)
{
    /// <summary>Warm-up time at least this long, so that the JIT's tiered compilation (which promotes hot methods
    /// after a ~100 ms quiet period) has finished before timing starts.</summary>
    public static double MinWarmupMs { get; set; } = 300;

    /// <summary>Calls before .NET's tiered compilation promotes a method to optimized code (30, plus a margin): a method
    /// that runs once per workload call stays in unoptimized tier-0 code until the workload has run this often.</summary>
    public const int TierUpCalls = 40;

    /// <summary>Longest warm-up spent reaching <see cref="TierUpCalls"/> or a quiet JIT for slow workloads.</summary>
    public static double MaxWarmupMs { get; set; } = 4000;

    /// <summary>How long the JIT must have compiled nothing before timing starts. .NET's tiered compilation recompiles
    /// hot methods on a background thread once they have run 30 times, later still when new methods keep arriving; on
    /// a machine whose two vCPUs share one core that thread slows the workload beside it. Timing began too early for
    /// the W4 step with its state donated, whose first calls exercise code the plain step does not: it measured 2–3×
    /// the plain step, and the same as the plain step once the warm-up waited for the JIT to go quiet.</summary>
    public const double JitQuietMs = 300;

    /// <summary>Runs <paramref name="run"/> untimed: at least <paramref name="minCalls"/> times and
    /// <see cref="MinWarmupMs"/>, then on until it has made <see cref="TierUpCalls"/> calls and the JIT has compiled
    /// no method for <see cref="JitQuietMs"/> (both only while the warm-up is shorter than
    /// <see cref="MaxWarmupMs"/>).</summary>
    public static void WarmUp(Action run, int minCalls)
    {
        long w0 = Stopwatch.GetTimestamp();
        double Elapsed() => Stopwatch.GetElapsedTime(w0).TotalMilliseconds;
        long compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        double lastCompile = 0;
        for (int i = 0; ; i++)
        {
            bool owed = i < minCalls || Elapsed() < MinWarmupMs;
            bool settling = (i < TierUpCalls || Elapsed() - lastCompile < JitQuietMs) && Elapsed() < MaxWarmupMs;
            if (!owed && !settling) return;
            run();
            long now = System.Runtime.JitInfo.GetCompiledMethodCount();
            if (now != compiled) { compiled = now; lastCompile = Elapsed(); }
        }
    }

    /// <summary>Times <paramref name="run"/> <paramref name="reps"/> times after a <see cref="WarmUp"/> of at least
    /// <paramref name="warmup"/> untimed runs, so that steady-state code is measured, as BenchmarkDotNet's warm-up
    /// does. A full GC runs before the first timed run only, so collections the workload itself causes are
    /// counted.</summary>
    public static Stats Of(Action run, int warmup, int reps)
    {
        WarmUp(run, warmup);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            run();
            times[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(times);
        return new Stats(times[reps / 2], times[0], times[^1], reps);
    }

    /// <summary>Two workloads timed alternately (a, b, a, b, ...) after warming both up, so that the machine's slow
    /// drifts in speed land on both alike; their ratio is the one to compare.</summary>
    public static (Stats A, Stats B) Paired(Action a, Action b, int reps)
    {
        WarmUp(() => { a(); b(); }, 1);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var ta = new double[reps];
        var tb = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a();
            ta[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            t0 = Stopwatch.GetTimestamp();
            b();
            tb[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(ta);
        Array.Sort(tb);
        return (new Stats(ta[reps / 2], ta[0], ta[^1], reps), new Stats(tb[reps / 2], tb[0], tb[^1], reps));
    }

    /// <summary>The same numbers divided by <paramref name="k"/> (e.g. per op of a batch of ops).</summary>
    public Stats Per(double k) => new(MedianMs / k, MinMs / k, MaxMs / k, Reps);
}

/// <summary>Deterministic test data (standard normal float32, like torch.randn).</summary>
internal static class Data
{
    public static float[] Normal(int n, int seed)
    {
        var r = new float[n];
        int chunks = 16;
        int per = (n + chunks - 1) / chunks;
        Parallel.For(0, chunks, c =>
        {
            var rng = new System.Random(seed * 7919 + c);
            int s = c * per, e = Math.Min(n, s + per);
            for (int i = s; i < e; i += 2)
            {
                // Box-Muller: two normals from two uniforms.
                double u1 = 1.0 - rng.NextDouble(), u2 = rng.NextDouble();
                double rad = Math.Sqrt(-2.0 * Math.Log(u1));
                r[i] = (float)(rad * Math.Cos(2 * Math.PI * u2));
                if (i + 1 < e) r[i + 1] = (float)(rad * Math.Sin(2 * Math.PI * u2));
            }
        });
        return r;
    }
}
