using System.Reflection;

namespace Jx;

/// <summary>Shape and dtype rule of a primitive: output avals from input avals and params; throws a
/// <see cref="JxException"/> with a clear message on invalid input.</summary>
public delegate Aval[] AbstractEvalRule(Aval[] inputs, Params parameters);

/// <summary>Eager CPU kernel of a primitive: concrete inputs and the already checked output avals to concrete outputs.</summary>
public delegate Tensor[] EagerKernel(Tensor[] inputs, Params parameters, Aval[] outputs);

/// <summary>An operation of the closed primitive set (in the spirit of jax.lax). Each primitive has an abstract-evaluation
/// rule and an eager CPU kernel here in Jx.Core; its JVP, transpose and batching rules live in Jx.Transforms.
/// Users normally reach primitives through <see cref="Lax"/>, <see cref="Np"/> and <see cref="Nn"/>.</summary>
/// <example><code>var y = Primitives.Sin.Bind1(x); // same as Lax.Sin(x)</code></example>
public sealed class Primitive
{
    public string Name { get; }
    public bool MultipleResults { get; }
    public AbstractEvalRule AbstractEval { get; }
    public EagerKernel Kernel { get; }
    /// <summary>The primitive family ("elementwise", "shape", "reduction", ...), for grouping rules.</summary>
    public string Family { get; }
    // A collective over a named axis: its bind reaches the trace that defines the axis even when no argument depends on it.
    private readonly bool _collective;

    public Primitive(string name, string family, AbstractEvalRule abstractEval, EagerKernel kernel, bool multipleResults = false)
    {
        Name = name;
        Family = family;
        AbstractEval = abstractEval;
        Kernel = kernel;
        MultipleResults = multipleResults;
        _collective = family == "collective";
        PrimitiveRegistry.Register(this);
    }

    public override string ToString() => Name;

    /// <summary>Applies the primitive under the innermost active trace that owns an argument (JAX's bind). A collective
    /// over a named axis (psum, all_gather, axis_index, ...) goes at least to the trace that defines the axis, so that a
    /// value which does not depend on the axis (or no value at all) still meets the transform that gives the name meaning.</summary>
    public Tensor[] Bind(Tensor[] args, Params? parameters = null)
    {
        var p = parameters ?? Params.Empty;
        if (TraceStack.IsEager)
        {
            foreach (var a in args)
                if (a is Tracer t) throw TraceStack.Escaped(t, this);
            return EvalEager(args, p);
        }
        var trace = TraceStack.FindTopTrace(args, this);
        if (_collective && p.Has("axis_name") && p["axis_name"] is string axisName && AxisEnv.TryFind(axisName) is { } frame
            && frame.Main.Alive && frame.Main.Level > trace.Main.Level)
            trace = frame.Main.Trace;
        var tracers = new Tensor[args.Length];
        for (int i = 0; i < args.Length; i++) tracers[i] = TraceStack.FullRaise(trace, args[i]);
        var outs = trace.ProcessPrimitive(this, tracers, p);
        for (int i = 0; i < outs.Length; i++) outs[i] = TraceStack.FullLower(outs[i]);
        return outs;
    }

    /// <summary>Binds a single-result primitive.</summary>
    public Tensor Bind1(params Tensor[] args) => Bind(args)[0];
    public Tensor Bind1(Tensor[] args, Params parameters) => Bind(args, parameters)[0];

    /// <summary>Checks inputs with the abstract-evaluation rule and runs the eager kernel on concrete inputs.</summary>
    internal Tensor[] EvalEager(Tensor[] args, Params p)
    {
        var avals = new Aval[args.Length];
        Device? device = null;
        for (int i = 0; i < args.Length; i++)
        {
            var a = args[i];
            avals[i] = a.Aval;
            if (a.Buffer!.DonatedTo is string donee)
                throw new DonatedBufferError($"'{Name}' got an array that was donated to jitted '{donee}' (donateArgnums) and may have been overwritten; use the function's outputs instead, or do not donate the argument.");
            var d = a.Buffer.Device;
            if (device is null) device = d;
            else if (!device.Equals(d))
                throw new DeviceError($"'{Name}' got operands on different devices ({device} and {d}); move them to one device with Jax.DevicePut(x, device) first.");
        }
        var outAvals = AbstractEval(avals, p);
        Tensor[] outs;
        if (EagerProfiler.Enabled)
        {
            long t0 = EagerProfiler.Start();
            outs = Kernel(args, p, outAvals);
            EagerProfiler.Stop(this, outAvals, t0);
        }
        else outs = Kernel(args, p, outAvals);
        if (DebugNans.Enabled) DebugNans.Check(this, outs);
        return outs;
    }

    /// <summary>The output avals for the given inputs, with shape/dtype errors raised here.</summary>
    public Aval[] OutputAvals(Aval[] inputs, Params? parameters = null) => AbstractEval(inputs, parameters ?? Params.Empty);
}

/// <summary>The closed set of registered primitives. A test enumerates it and fails for any primitive that lacks
/// a rule it needs.</summary>
public static class PrimitiveRegistry
{
    private static readonly Dictionary<string, Primitive> ByName = new();
    private static readonly object Lock = new();

    internal static void Register(Primitive p)
    {
        lock (Lock)
        {
            if (ByName.ContainsKey(p.Name)) throw new InvalidOperationException($"primitive '{p.Name}' registered twice");
            ByName[p.Name] = p;
        }
    }

    /// <summary>Every primitive of Jx.Core (the static classes marked with <see cref="PrimitiveFamilyAttribute"/> are initialized first).</summary>
    public static IReadOnlyList<Primitive> All
    {
        get
        {
            EnsureLoaded();
            lock (Lock) return ByName.Values.OrderBy(p => p.Name, StringComparer.Ordinal).ToList();
        }
    }

    public static Primitive Get(string name)
    {
        EnsureLoaded();
        lock (Lock)
            return ByName.TryGetValue(name, out var p) ? p : throw new InvalidArgumentError($"no primitive named '{name}'");
    }

    private static bool _loaded;
    private static void EnsureLoaded()
    {
        if (_loaded) return;
        foreach (var t in typeof(Primitive).Assembly.GetTypes())
            if (t.GetCustomAttribute<PrimitiveFamilyAttribute>() is not null)
                System.Runtime.CompilerServices.RuntimeHelpers.RunClassConstructor(t.TypeHandle);
        _loaded = true;
    }
}

/// <summary>Marks a static class that defines primitives, so the registry can enumerate them all.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class PrimitiveFamilyAttribute : Attribute;

/// <summary>JX_DEBUG_NANS=1: every eager kernel's output is checked, and the first primitive that produces a NaN is named.</summary>
public static class DebugNans
{
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("JX_DEBUG_NANS") == "1";

    internal static void Check(Primitive p, Tensor[] outs)
    {
        foreach (var o in outs)
        {
            if (!o.DType.IsFloating()) continue;
            var b = o.Buffer!;
            for (int i = 0; i < b.Length; i++)
                if (double.IsNaN(b.GetDouble(i)))
                    throw new FloatingPointError($"JX_DEBUG_NANS: primitive '{p.Name}' produced a NaN (output {o.Aval}, first at flat index {i}).");
        }
    }
}

/// <summary>An array whose buffer was donated to a jitted call was used afterwards.</summary>
public class DonatedBufferError(string message) : JxException(message);

/// <summary>A NaN was produced while JX_DEBUG_NANS=1.</summary>
public class FloatingPointError(string message) : JxException(message);
