using static Jx.Transforms;

namespace Jx.Tests;

[CollectionDefinition("JitCache", DisableParallelization = true)]
public class JitCacheCollection;

/// <summary>The on-disk cache of compiled programs: a new process (simulated by a new jitted function, which has empty
/// in-memory caches) compiles nothing; corrupt entries are ignored and rewritten.</summary>
[Collection("JitCache")]
public class JitCacheTests
{
    private static Func<Tensor, Tensor> Program() => Jit((Tensor x) => Np.Exp(x) * 3f - Np.Sqrt(x * x + 1f));

    private static T WithCacheDir<T>(string dir, Func<T> body)
    {
        var prev = Environment.GetEnvironmentVariable("JX_CACHE_DIR");
        Environment.SetEnvironmentVariable("JX_CACHE_DIR", dir);
        try { return body(); }
        finally { Environment.SetEnvironmentVariable("JX_CACHE_DIR", prev); }
    }

    [Fact]
    public void SecondCompileOfTheSameProgramLoadsFromDisk()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jx-cache-test-" + Guid.NewGuid().ToString("N"));
        var x = Np.Array(new float[] { 0.5f, -1f, 2f });
        WithCacheDir(dir, () =>
        {
            int c0 = RoslynCompiler.CompileCount;
            var y1 = Program()(x);
            Assert.Equal(c0 + 1, RoslynCompiler.CompileCount);
            Assert.Single(Directory.GetFiles(dir, "*.dll"));
            int hits = RoslynCompiler.DiskHits;
            var y2 = Program()(x); // a fresh jitted function: traces again, but finds the compiled program on disk
            Assert.Equal(c0 + 1, RoslynCompiler.CompileCount);
            Assert.Equal(hits + 1, RoslynCompiler.DiskHits);
            Assert.Equal(y1.ToArray<float>(), y2.ToArray<float>());
            return 0;
        });
    }

    [Fact]
    public void CorruptEntryIsIgnoredAndRewritten()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jx-cache-test-" + Guid.NewGuid().ToString("N"));
        var x = Np.Array(new float[] { 1f, 2f });
        WithCacheDir(dir, () =>
        {
            var expected = Program()(x).ToArray<float>();
            var file = Directory.GetFiles(dir, "*.dll").Single();
            File.WriteAllBytes(file, [1, 2, 3, 4, 5]);
            int c0 = RoslynCompiler.CompileCount;
            Assert.Equal(expected, Program()(x).ToArray<float>());
            Assert.Equal(c0 + 1, RoslynCompiler.CompileCount);
            Assert.True(new FileInfo(file).Length > 1000, "the corrupt entry was rewritten");
            return 0;
        });
    }

    [Fact]
    public void TieredCompilationLoadsAProgramCompiledBeforeInsteadOfInterpretingIt()
    {
        var dir = Path.Combine(Path.GetTempPath(), "jx-cache-test-" + Guid.NewGuid().ToString("N"));
        var x = Np.Array(new float[] { 0.5f, -1f, 2f });
        var prev = JitOptions.Tiered;
        try
        {
            WithCacheDir(dir, () =>
            {
                JitOptions.Tiered = false;
                var expected = Program()(x).ToArray<float>();
                var marker = Assert.Single(Directory.GetFiles(dir, "*.program"));
                // The marker names the program's compiled assembly in the cache.
                Assert.Equal(Path.GetFileNameWithoutExtension(Assert.Single(Directory.GetFiles(dir, "*.dll"))), Assert.Single(File.ReadAllLines(marker)));
                JitOptions.Tiered = true;
                int hits = RoslynCompiler.DiskHits, compiles = RoslynCompiler.CompileCount;
                // The program is one fused kernel: an interpreted call would run (and profile) its eager primitives.
                bool profiling = EagerProfiler.Enabled;
                EagerProfiler.Reset();
                EagerProfiler.Enabled = true;
                Tensor y;
                try { y = Program()(x); } // a fresh jitted function: its first call loads the compiled program, synchronously
                finally { EagerProfiler.Enabled = profiling; }
                var report = EagerProfiler.Report();
                EagerProfiler.Reset();
                Assert.DoesNotContain("exp ->", report);
                Assert.Equal(hits + 1, RoslynCompiler.DiskHits);
                Assert.Equal(compiles, RoslynCompiler.CompileCount);
                Assert.Equal(expected, y.ToArray<float>());
                return 0;
            });
        }
        finally { JitOptions.Tiered = prev; }
    }

    [Fact]
    public void TieredCompilationAnswersBeforeTheCompilerFinishes()
    {
        var prev = JitOptions.Tiered;
        try
        {
            JitOptions.Tiered = true;
            var f = Jit((Tensor x) => Np.Tanh(x) * 2f + Np.Cos(x));
            var x = Np.Array(new float[] { 0.1f, 0.2f });
            var expected = (Np.Tanh(x) * 2f + Np.Cos(x)).ToArray<float>();
            for (int i = 0; i < 3; i++) Assert.True(Np.AllClose(f(x), Tensor.FromArray(expected), 1e-6, 1e-6));
            Assert.Equal(1, f.Lower(x).KernelCount); // Lower waits for the native compile
            Assert.True(Np.AllClose(f(x), Tensor.FromArray(expected), 1e-6, 1e-6));
        }
        finally { JitOptions.Tiered = prev; }
    }
}
