namespace Jx;

/// <summary>One level of the trace stack: a running transform (eval, make_jaxpr, jvp, vmap, jit...).
/// Tracers belong to a main trace; when the transform finishes the main trace dies, and any tracer of it that is
/// used afterwards raises <see cref="EscapedTracerError"/>.</summary>
public sealed class MainTrace
{
    public int Level { get; }
    /// <summary>The transform's name for error messages: "grad", "vmap", "make_jaxpr", ...</summary>
    public string Name { get; }
    /// <summary>Per-transform state (a jaxpr builder, a batch axis name...).</summary>
    public object? GlobalData { get; }
    public bool Alive { get; internal set; } = true;
    public Trace Trace { get; }

    internal MainTrace(int level, string name, Func<MainTrace, Trace> makeTrace, object? globalData)
    {
        Level = level;
        Name = name;
        GlobalData = globalData;
        Trace = makeTrace(this);
    }

    public override string ToString() => $"MainTrace({Level}, {Name})";
}

/// <summary>An interpreter for primitives: eager evaluation, staging into a jaxpr, JVP, batching... Every transform
/// is a Trace subclass with its own Tracer type, as in JAX.</summary>
public abstract class Trace
{
    public MainTrace Main { get; }
    protected Trace(MainTrace main) => Main = main;

    /// <summary>Wraps a concrete value (a constant) as a tracer of this trace.</summary>
    public abstract Tensor Pure(Tensor value);

    /// <summary>Wraps a tracer of a lower level as a tracer of this trace.</summary>
    public virtual Tensor Lift(Tensor value) => Pure(value);

    /// <summary>Applies a primitive to tracers of this trace.</summary>
    public abstract Tensor[] ProcessPrimitive(Primitive primitive, Tensor[] tracers, Params parameters);

    /// <summary>Applies a higher-order call (custom_jvp, custom_vjp, ...) to tracers of this trace. The default
    /// treats the call as its implementation, which is correct for transforms that need no special rule.</summary>
    public virtual Tensor[] ProcessCustomCall(CustomCall call, Tensor[] tracers) => call.Call(tracers);
}

/// <summary>A Tensor that stands for a value inside a transform. Users cannot tell tracers from concrete tensors
/// except through <see cref="Tensor.IsConcrete"/>.</summary>
public abstract class Tracer : Tensor
{
    public abstract Trace Trace { get; }
    public override bool IsConcrete => false;

    /// <summary>The tracer unwrapped to a lower level when this trace adds nothing (a JVP tracer with zero tangent...).</summary>
    public virtual Tensor FullLower() => this;

    /// <summary>The concrete value this tracer stands for, if the transform knows it (JVP of concrete primals), else null.</summary>
    public virtual Tensor? ToConcrete() => null;

    public override string ToString() => $"Traced<{Aval}> with {Trace.Main.Name}";
}

/// <summary>The eager interpreter at the bottom of every trace stack: runs each primitive's CPU kernel at once.</summary>
public sealed class EvalTrace : Trace
{
    internal EvalTrace(MainTrace main) : base(main) { }
    public override Tensor Pure(Tensor value) => value;
    public override Tensor[] ProcessPrimitive(Primitive primitive, Tensor[] args, Params parameters) => primitive.EvalEager(args, parameters);
}

/// <summary>The per-thread stack of running transforms. Transforms push a <see cref="MainTrace"/> for their duration;
/// <see cref="Primitive.Bind"/> dispatches to the innermost trace that owns an argument.</summary>
public static class TraceStack
{
    [ThreadStatic] private static List<MainTrace>? _stack;
    [ThreadStatic] private static MainTrace? _dynamic;

    private static List<MainTrace> Stack => _stack ??= [new MainTrace(0, "eval", m => new EvalTrace(m), null)];

    /// <summary>True when no transform is running on this thread: primitives run eagerly.</summary>
    internal static bool IsEager => _stack is null || (_stack.Count == 1 && _dynamic is null);

    public static MainTrace Bottom => Stack[0];
    public static int Depth => Stack.Count;
    public static MainTrace? Dynamic => _dynamic;

    /// <summary>Pushes a new main trace; dispose the returned scope to pop it (the trace then dies).</summary>
    public static Scope NewMain(string name, Func<MainTrace, Trace> makeTrace, object? globalData = null, bool dynamic = false)
    {
        var stack = Stack;
        var main = new MainTrace(stack.Count, name, makeTrace, globalData);
        stack.Add(main);
        var prevDynamic = _dynamic;
        if (dynamic) _dynamic = main;
        return new Scope(main, prevDynamic);
    }

    /// <summary>The names of the transforms running now, innermost last (for error messages).</summary>
    public static string Describe() => string.Join(" > ", Stack.Skip(1).Select(m => m.Name));

    public sealed class Scope : IDisposable
    {
        public MainTrace Main { get; }
        private readonly MainTrace? _prevDynamic;
        private bool _disposed;
        internal Scope(MainTrace main, MainTrace? prevDynamic) { Main = main; _prevDynamic = prevDynamic; }
        public void Dispose()
        {
            if (_disposed) return;
            _disposed = true;
            var stack = Stack;
            if (stack[^1] != Main) throw new InvalidOperationException($"trace stack corrupted: popping {Main} but top is {stack[^1]}");
            stack.RemoveAt(stack.Count - 1);
            Main.Alive = false;
            _dynamic = _prevDynamic;
        }
    }

    /// <summary>Temporarily runs with only the eval trace (plus nothing dynamic): used to evaluate constants eagerly.</summary>
    internal static IDisposable EagerOnly()
    {
        var saved = _stack;
        var savedDyn = _dynamic;
        _stack = null;
        _dynamic = null;
        return new Restore(saved, savedDyn);
    }

    private sealed class Restore(List<MainTrace>? stack, MainTrace? dyn) : IDisposable
    {
        public void Dispose() { _stack = stack; _dynamic = dyn; }
    }

    internal static Trace FindTopTrace(ReadOnlySpan<Tensor> args, Primitive? primitive)
    {
        MainTrace top = Stack[0];
        foreach (var a in args)
        {
            if (a is Tracer t)
            {
                var m = t.Trace.Main;
                if (!m.Alive) throw Escaped(t, primitive);
                if (m.Level > top.Level) top = m;
            }
        }
        if (_dynamic is not null && _dynamic.Level > top.Level) top = _dynamic;
        return top.Trace;
    }

    internal static EscapedTracerError Escaped(Tracer t, Primitive? primitive) => new(
        $"Encountered an unexpected tracer: a value of type {t.Aval} created inside {t.Trace.Main.Name} was used" +
        (primitive is null ? "" : $" by '{primitive.Name}'") +
        $" after {t.Trace.Main.Name} had returned. A traced value leaked out of the transformed function, for example by " +
        "being stored in a field or captured variable. Return it from the function instead, or compute it outside the transform.");

    internal static Tensor FullRaise(Trace trace, Tensor val)
    {
        if (val is not Tracer t) return trace.Pure(val);
        var level = trace.Main.Level;
        var m = t.Trace.Main;
        if (ReferenceEquals(m, trace.Main)) return val;
        if (m.Level < level) return trace.Lift(val);
        if (m.Level > level)
            throw new EscapedTracerError($"Can't lift a tracer of level {m.Level} ({m.Name}) to level {level} ({trace.Main.Name}): a tracer escaped its transform.");
        throw new EscapedTracerError($"Different traces at the same level {level}: {m.Name} and {trace.Main.Name}.");
    }

    internal static Tensor FullLower(Tensor val) => val is Tracer t ? t.FullLower() : val;
}
