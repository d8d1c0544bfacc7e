using System.Diagnostics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Jx.Benchmarks;

/// <summary>Stopwatch breakdowns that say where the eager time goes (they use Jx.Core internals, which are visible to
/// this assembly).</summary>
internal static class Breakdown
{
    /// <summary>One stage of a breakdown: its median time and allocation per call.</summary>
    public sealed record Stage(string Name, double Value, string Unit, double? BytesPerCall, string Note, double? ThreadCpu = null);

    /// <summary>W7: nested layers of one eager add of two 1-element float32 tensors, each timed on its own
    /// (ns/op and bytes allocated per op). The difference between layers is what the outer layer adds.</summary>
    public static List<Stage> W7(bool quick)
    {
        var a = Tensor.FromArray(new[] { 1f });
        var b = Tensor.FromArray(new[] { 1f });
        var args = new[] { a, b };
        var avals = new[] { a.Aval, b.Aval };
        var p = Params.Empty;
        var add = Elementwise.Add;
        var outAvals = add.AbstractEval(avals, p);
        var x = new float[] { 1f };
        var y = new float[] { 1f };
        int iters = quick ? 20_000 : 100_000;
        var stages = new List<Stage>
        {
            Time("Np.Add(a, b) — the W7 op", iters, () => Np.Add(a, b), "promotion + broadcasting + Bind + kernel"),
            Time("  Np.PromoteDTypes(a, b)", iters, () => Np.PromoteDTypes(a, b), "result type + convert_element_type binds (no-ops here)"),
            Time("  Np.BroadcastArrays(a, b)", iters, () => Np.BroadcastArrays(a, b), "broadcast shape + BroadcastTo (no-ops here)"),
            Time("  Lax.Add(a, b) = Primitive.Bind", iters, () => Lax.Add(a, b), "trace-stack check + EvalEager"),
            Time("    Primitive.EvalEager", iters, () => add.EvalEager(args, p), "avals, device check, abstract eval, kernel"),
            Time("      AbstractEval (shape/dtype rule)", iters, () => add.AbstractEval(avals, p), ""),
            Time("      Kernel (ElementwiseEngine.Binary)", iters, () => add.Kernel(args, p, outAvals), "dtype dispatch, output array, closure, TensorPrimitives, Tensor"),
            Time("        TensorPrimitives.Add on 1 element", iters, () => { TP.Add(x, x, y); return null; }, "the arithmetic itself"),
            Time("        new float[1] + Tensor (the result object)", iters, () => Tensor.Own(new float[1], a.Shape), "allocation floor of one result"),
        };
        return stages;
    }

    private static Stage Time(string name, int iters, Func<object?> op, string note)
    {
        long w0 = Stopwatch.GetTimestamp();
        while (Stopwatch.GetElapsedTime(w0).TotalMilliseconds < Stats.MinWarmupMs)
            for (int i = 0; i < 1000; i++) op();
        var ns = new double[5];
        long bytes = 0;
        long? c0 = ThreadCpu.Nanoseconds();
        for (int r = 0; r < ns.Length; r++)
        {
            long b0 = GC.GetAllocatedBytesForCurrentThread();
            long t0 = Stopwatch.GetTimestamp();
            for (int i = 0; i < iters; i++) op();
            ns[r] = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / iters;
            bytes = GC.GetAllocatedBytesForCurrentThread() - b0;
        }
        long? c1 = ThreadCpu.Nanoseconds();
        Array.Sort(ns);
        double? cpu = c0 is long a && c1 is long b ? (double)(b - a) / (ns.Length * (long)iters) : null;
        return new Stage(name, ns[ns.Length / 2], "ns/op", (double)bytes / iters, note, cpu);
    }

    /// <summary>W1: the nine eager ops of the Jx form timed one by one (median over runs, ms, with the GC pause time
    /// inside each op), each intermediate released as soon as the expression would release it; next to the same
    /// kinds of pass written with TensorPrimitives into preallocated memory, and the cost of allocating and first
    /// touching a fresh 64 MiB result.</summary>
    public static List<Stage> W1(float[] xs, Tensor x, int threads, int reps)
    {
        string[] names =
        [
            "0.5 * x", "0.044715 * x", "(…) * x", "(…) * x  [x³ term]", "x + (…)",
            "0.79788456 * (…)", "Np.Tanh(…)", "1 + tanh", "(0.5x) * (…)",
        ];
        int n = xs.Length;
        var times = new double[names.Length][];
        var pauses = new double[names.Length][];
        var faults = new double[names.Length][];
        for (int k = 0; k < names.Length; k++) { times[k] = new double[reps]; pauses[k] = new double[reps]; faults[k] = new double[reps]; }
        var whole = new double[reps];
        static Tensor Mul(Tensor a, Tensor b) => a * b;
        static Tensor Add(Tensor a, Tensor b) => a + b;
        static Tensor Tanh(Tensor a, Tensor _) => Np.Tanh(a);
        Tensor? Op(int k, int r, Func<Tensor, Tensor, Tensor> f, Tensor a, Tensor b)
        {
            var p0 = GC.GetTotalPauseDuration();
            long f0 = CpuLoad.MinorFaults();
            long t0 = Stopwatch.GetTimestamp();
            var t = f(a, b);
            times[k][r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
            faults[k][r] = CpuLoad.MinorFaults() - f0;
            pauses[k][r] = (GC.GetTotalPauseDuration() - p0).TotalMilliseconds;
            return t;
        }
        int gc0 = GC.CollectionCount(2);
        long pf = CpuLoad.MinorFaults();
        for (int r = 0; r < reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            Tensor? half = Op(0, r, Mul, 0.5, x);
            Tensor? t = Op(1, r, Mul, 0.044715, x);
            t = Op(2, r, Mul, t!, x);
            t = Op(3, r, Mul, t!, x);
            t = Op(4, r, Add, x, t!);
            t = Op(5, r, Mul, 0.79788456, t!);
            t = Op(6, r, Tanh, t!, t!);
            t = Op(7, r, Add, 1, t!);
            t = Op(8, r, Mul, half!, t!);
            half = null;
            t = null;
            whole[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        double gcPerRun = (GC.CollectionCount(2) - gc0) / (double)reps;
        double faultsPerRun = (CpuLoad.MinorFaults() - pf) / (double)reps;
        var list = new List<Stage>();
        for (int k = 0; k < names.Length; k++)
        {
            Array.Sort(times[k]);
            Array.Sort(pauses[k]);
            Array.Sort(faults[k]);
            list.Add(new Stage("Jx " + names[k], times[k][reps / 2], "ms", null,
                $"GC pause inside: median {pauses[k][reps / 2]:0.0} ms, max {pauses[k][^1]:0.0} ms; page faults: median {faults[k][reps / 2]:0}"));
        }
        Array.Sort(whole);
        list.Add(new Stage("all nine, in sequence (W1 eager)", whole[reps / 2], "ms", null, $"min {whole[0]:0.0} ms, max {whole[^1]:0.0} ms; gen2 GCs per run {gcPerRun:0.#}; page faults per run {faultsPerRun:0}"));

        // The same kinds of pass with TensorPrimitives into preallocated memory (2 threads).
        var t1 = new float[n];
        var t2 = new float[n];
        list.Add(new Stage("TP multiply by scalar (preallocated)", Median(reps, () => Par(n, threads, (s, c) => TP.Multiply(xs.AsSpan(s, c), 0.5f, t1.AsSpan(s, c)))), "ms", null, "one elementwise pass, no allocation"));
        list.Add(new Stage("TP multiply two arrays (preallocated)", Median(reps, () => Par(n, threads, (s, c) => TP.Multiply(xs.AsSpan(s, c), t1.AsSpan(s, c), t2.AsSpan(s, c)))), "ms", null, ""));
        list.Add(new Stage("TP tanh (preallocated)", Median(reps, () => Par(n, threads, (s, c) => TP.Tanh(xs.AsSpan(s, c), t1.AsSpan(s, c)))), "ms", null, ""));
        long pf0 = CpuLoad.MinorFaults();
        list.Add(new Stage("new float[16M] + first write (64 MiB)", Median(reps, () =>
        {
            var fresh = GC.AllocateUninitializedArray<float>(n);
            Par(n, threads, (s, c) => fresh.AsSpan(s, c).Fill(1f));
        }), "ms", null, $"page faults per run: {(CpuLoad.MinorFaults() - pf0) / (reps + 1.0):0}"));
        return list;
    }

    /// <summary>W3: Np.Matmul against Gemm.Multiply into a preallocated result (the BLAS or managed kernel alone), the
    /// zeroed 16 MiB result allocation, and the managed kernel on a narrower B (2048×512, whose packed block fits in
    /// L2) to show how much of its gap is memory traffic.</summary>
    public static List<Stage> W3(float[] a, float[] b, Tensor ta, Tensor tb, int n, int reps)
    {
        var c = new float[n * n];
        double flop = 2.0 * n * n * (double)n;
        string G(double ms, double f) => $"{f / (ms * 1e-3) / 1e9:0} GFLOP/s";
        var list = new List<Stage>();
        try
        {
            if (Gemm.UsingBlas)
            {
                Gemm.ForceManaged = false;
                double jx = Median(reps, () => Np.Matmul(ta, tb));
                double fresh = Median(reps, () => Gemm.Multiply(a, b, new float[n * n], n, n, n));
                double raw = Median(reps, () => Gemm.Multiply(a, b, c, n, n, n));
                list.Add(new Stage("Np.Matmul (BLAS) — the W3 op", jx, "ms", null, G(jx, flop)));
                list.Add(new Stage("  Gemm.Multiply (BLAS) into new float[2048²]", fresh, "ms", null, G(fresh, flop) + "; a fresh 16 MiB result, as dot_general allocates"));
                list.Add(new Stage("  Gemm.Multiply (BLAS) into a preallocated C", raw, "ms", null, G(raw, flop) + "; OpenBLAS alone"));
            }
            Gemm.ForceManaged = true;
            double jxm = Median(reps, () => Np.Matmul(ta, tb));
            double rawm = Median(reps, () => Gemm.Multiply(a, b, c, n, n, n));
            list.Add(new Stage("Np.Matmul (managed kernel)", jxm, "ms", null, G(jxm, flop)));
            list.Add(new Stage("  Gemm.Multiply (managed) into a preallocated C", rawm, "ms", null, G(rawm, flop)));
            int nn = 512;
            var bn = new float[n * nn];
            var cn = new float[n * nn];
            Array.Copy(b, bn, bn.Length);
            double narrow = Median(reps, () => Gemm.Multiply(a, bn, cn, n, nn, n));
            list.Add(new Stage("  Gemm.Multiply (managed), 2048×2048 · 2048×512", narrow, "ms", null,
                G(narrow, 2.0 * n * n * (double)nn) + "; packed B block 512 KiB instead of 2 MiB"));
        }
        finally { Gemm.ForceManaged = false; }
        return list;
    }

    private static double Median(int reps, Action a)
    {
        a();
        var t = new double[reps];
        for (int r = 0; r < reps; r++)
        {
            long t0 = Stopwatch.GetTimestamp();
            a();
            t[r] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        }
        Array.Sort(t);
        return t[reps / 2];
    }

    private static void Par(int n, int threads, Action<int, int> body)
    {
        int per = ((n + threads - 1) / threads + 63) & ~63;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, w =>
        {
            int s = w * per, e = Math.Min(n, s + per);
            if (e > s) body(s, e - s);
        });
    }
}
