using System.Reflection;

namespace Jx;

/// <summary>A compiled jaxpr, ready to run on concrete inputs.</summary>
public interface IExecutable
{
    Tensor[] Run(Tensor[] args);
    /// <summary>Runs the program; <paramref name="donated"/> marks the arguments whose arrays the caller gives up
    /// (donateArgnums), which the program may reuse for its outputs. By default donation is ignored.</summary>
    Tensor[] Run(Tensor[] args, bool[]? donated) => Run(args);
    /// <summary>Number of kernels (fused loops and library calls) the program runs.</summary>
    int KernelCount { get; }
    /// <summary>The optimized jaxpr, the fusion groups and the generated code, as text.</summary>
    LoweredText Describe();
}

/// <summary>What <c>Lower</c> shows of a compiled function.</summary>
public sealed record LoweredText(string OptimizedJaxpr, string FusionGroups, string GeneratedCode, int KernelCount);

/// <summary>Compiles jaxprs. Jx.Jit provides the native backend; without it, jitted functions run their traced jaxpr
/// through the eager interpreter (still traced once per signature).</summary>
public interface IJitBackend
{
    string Name { get; }
    IExecutable Compile(ClosedJaxpr jaxpr, string name);

    /// <summary>Whether compiling <paramref name="jaxpr"/> now should be quick because its code is already in a disk
    /// cache. Tiered compilation (<see cref="JitOptions.Tiered"/>) then compiles at once instead of interpreting the
    /// first calls while a compiler starts. A wrong guess costs only time. By default false.</summary>
    bool IsCompiledOnDisk(ClosedJaxpr jaxpr) => false;
}

/// <summary>The registered jit backend (the native one of Jx.Jit when that assembly is present).</summary>
public static class JitBackends
{
    private static IJitBackend? _current;
    private static bool _probed;
    private static readonly object Lock = new();

    public static void Register(IJitBackend backend) { lock (Lock) _current = backend; }

    public static IJitBackend Current
    {
        get
        {
            lock (Lock)
            {
                if (_current is null && !_probed)
                {
                    _probed = true;
                    try
                    {
                        var asm = Assembly.Load("Jx.Jit");
                        var t = asm.GetType("Jx.CpuJitBackend");
                        if (t is not null && Activator.CreateInstance(t) is IJitBackend b) _current = b;
                    }
                    catch (Exception e) when (e is FileNotFoundException or FileLoadException or BadImageFormatException) { }
                }
                return _current ??= new InterpreterBackend();
            }
        }
    }
}

/// <summary>Runs a jaxpr with the eager interpreter (the fallback backend).</summary>
internal sealed class InterpreterBackend : IJitBackend
{
    public string Name => "interpreter";
    public IExecutable Compile(ClosedJaxpr jaxpr, string name) => new Interpreted(jaxpr);

    private sealed class Interpreted(ClosedJaxpr jaxpr) : IExecutable
    {
        public Tensor[] Run(Tensor[] args) => jaxpr.Call(args);
        public int KernelCount => jaxpr.Jaxpr.Eqns.Count;
        public LoweredText Describe() => new(jaxpr.ToString(), "(interpreter: one primitive per equation)", "", KernelCount);
    }
}
