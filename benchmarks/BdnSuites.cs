using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Jx.Benchmarks;

/// <summary>The BenchmarkDotNet suites (full mode, <c>--bdn</c>): the same workloads and references as the quick table.
/// They run in process (BenchmarkDotNet's in-process toolchain), so they need no extra build and inherit the
/// thread counts the launcher set.</summary>
internal static class BdnSuites
{
    public static int Run(List<string> args, int threads)
    {
        var root = Program.RepoRoot() ?? Directory.GetCurrentDirectory();
        var job = Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(3)
            .WithIterationCount(15)
            .WithId($"inprocess-{threads}thr");
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(job)
            .WithArtifactsPath(Path.Combine(root, "benchmarks", "results", "bdn"));
        if (!args.Contains("--filter")) args = [.. args, "--filter", "*"];
        var summaries = BenchmarkSwitcher.FromTypes([typeof(W1Gelu), typeof(W2LogSumExp), typeof(W3Matmul), typeof(W7Dispatch)])
            .Run([.. args], config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}

/// <summary>W1: tanh-GELU over 16M float32 — Jx eager against the hand-fused loop (baseline) and TensorPrimitives.</summary>
[MemoryDiagnoser]
public class W1Gelu
{
    private float[] _x = [], _y = [], _t = [];
    private Tensor _tx = null!;
    private readonly int _threads = Environment.ProcessorCount;

    /// <summary>Makes the input.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _x = Data.Normal(Sizes.W1, 1);
        _y = new float[_x.Length];
        _t = new float[_x.Length];
        _tx = Tensor.FromArray(_x);
    }

    /// <summary>Jx, nine eager Np ops.</summary>
    [Benchmark]
    public Tensor JxEager() => JxForms.Gelu(_tx);

    /// <summary>The hand-written fused Vector512 loop.</summary>
    [Benchmark(Baseline = true)]
    public void HandFused() => HandWritten.GeluFused(_x, _y, _threads);

    /// <summary>Nine TensorPrimitives passes into preallocated buffers.</summary>
    [Benchmark]
    public void TensorPrimitivesUnfused() => HandWritten.GeluTensorPrimitives(_x, _t, _y, _threads);
}

/// <summary>W2: row-wise log-sum-exp of 4096×4096.</summary>
[MemoryDiagnoser]
public class W2LogSumExp
{
    private float[] _m = [], _y = [];
    private Tensor _tm = null!;
    private readonly int _threads = Environment.ProcessorCount;

    /// <summary>Makes the input.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _m = Data.Normal(Sizes.W2 * Sizes.W2, 2);
        _y = new float[Sizes.W2];
        _tm = Tensor.FromArray(_m, new Shape(Sizes.W2, Sizes.W2));
    }

    /// <summary>Jx eager Nn.LogSumExp over axis 1.</summary>
    [Benchmark]
    public Tensor JxEager() => JxForms.LogSumExpRows(_tm);

    /// <summary>The hand-written fused loop.</summary>
    [Benchmark(Baseline = true)]
    public void HandFused() => HandWritten.LogSumExpRows(_m, Sizes.W2, Sizes.W2, _y, _threads);
}

/// <summary>W3: 2048³ float32 matmul through the BLAS path (baseline) and the managed kernel.</summary>
[MemoryDiagnoser]
public class W3Matmul
{
    private Tensor _a = null!, _b = null!;

    /// <summary>Makes the inputs.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _a = Tensor.FromArray(Data.Normal(Sizes.W3 * Sizes.W3, 3), new Shape(Sizes.W3, Sizes.W3));
        _b = Tensor.FromArray(Data.Normal(Sizes.W3 * Sizes.W3, 4), new Shape(Sizes.W3, Sizes.W3));
    }

    /// <summary>Np.Matmul with the system BLAS (the managed kernel when none is installed).</summary>
    [Benchmark(Baseline = true)]
    public Tensor Blas()
    {
        Gemm.ForceManaged = false;
        return JxForms.Matmul(_a, _b);
    }

    /// <summary>Np.Matmul with Gemm.ForceManaged = true.</summary>
    [Benchmark]
    public Tensor Managed()
    {
        Gemm.ForceManaged = true;
        try { return JxForms.Matmul(_a, _b); }
        finally { Gemm.ForceManaged = false; }
    }
}

/// <summary>W7: eager dispatch; reported per add (10,000 adds per invocation).</summary>
[MemoryDiagnoser]
public class W7Dispatch
{
    private readonly Tensor _a = Tensor.FromArray(new[] { 1f });
    private readonly Tensor _b = Tensor.FromArray(new[] { 1f });

    /// <summary>10,000 Np.Add of two 1-element tensors.</summary>
    [Benchmark(OperationsPerInvoke = Sizes.W7)]
    public Tensor NpAdd() => JxForms.Adds(_a, _b, Sizes.W7);
}
