using System.Runtime.CompilerServices;

namespace Jx;

/// <summary>A jitted function over an argument list: traced once per signature (pytree structure, shapes, dtypes,
/// weak types and the values of static arguments), compiled, and cached.</summary>
public sealed class JittedFunction
{
    private readonly Func<object?[], object?> _f;
    private readonly int[] _static;
    private readonly int[] _donate;
    private readonly int _arity;
    public string Name { get; }
    private readonly Dictionary<Signature, Entry> _cache = new();
    private readonly object _lock = new();
    private Signature? _last;
    private int _consecutiveRetraces;
    private bool _warnedRetrace;

    /// <summary>How many times the function has been traced (one per new signature).</summary>
    public int TraceCount { get; private set; }
    /// <summary>Why each trace happened, in order ("first call", "new shapes: ...", "new static value: ...").</summary>
    public IReadOnlyList<string> TraceReasons => _reasons;
    private readonly List<string> _reasons = [];

    internal JittedFunction(Func<object?[], object?> f, int arity, int[]? staticArgnums, int[]? donateArgnums, string name)
    {
        _f = f;
        _arity = arity;
        _static = staticArgnums ?? [];
        _donate = donateArgnums ?? [];
        foreach (var s in _static)
            if (s < 0 || s >= arity) throw new InvalidArgumentError($"Jit: staticArgnums entry {s} is out of range for a function of {arity} argument(s)");
        foreach (var d in _donate)
        {
            if (d < 0 || d >= arity) throw new InvalidArgumentError($"Jit: donateArgnums entry {d} is out of range for a function of {arity} argument(s)");
            if (_static.Contains(d)) throw new InvalidArgumentError($"Jit: argument {d} cannot be both static and donated");
        }
        Name = name;
    }

    private sealed record Entry(Pjit.Compiled Compiled, TreeDef OutDef, TreeDef InDef)
    {
        /// <summary>The pjit params, built once per entry (not per call).</summary>
        public Params PjitParams { get; } = Pjit.ParamsFor(Compiled);
        /// <summary>Which argument leaves are donated (computed on the first donating call).</summary>
        public bool[]? DonatedLeaves { get; set; }
    }

    private sealed class Signature : IEquatable<Signature>
    {
        public TreeDef Def { get; }
        public Aval[] Avals { get; }
        public object?[] Statics { get; }
        private readonly int _hash;
        public Signature(TreeDef def, Aval[] avals, object?[] statics)
        {
            Def = def; Avals = avals; Statics = statics;
            var h = new HashCode();
            h.Add(def);
            foreach (var a in avals) h.Add(a);
            foreach (var s in statics) h.Add(s);
            _hash = h.ToHashCode();
        }
        public bool Equals(Signature? o)
        {
            if (o is null || o._hash != _hash || o.Avals.Length != Avals.Length || o.Statics.Length != Statics.Length) return false;
            for (int i = 0; i < Avals.Length; i++) if (!Avals[i].Equals(o.Avals[i])) return false;
            for (int i = 0; i < Statics.Length; i++) if (!Equals(Statics[i], o.Statics[i])) return false;
            return ReferenceEquals(Def, o.Def) || Def.Equals(o.Def);
        }
        public override bool Equals(object? obj) => obj is Signature s && Equals(s);
        public override int GetHashCode() => _hash;
        public string Describe() => $"({string.Join(", ", Avals.Select(a => a.ToString() + (a.Weak ? "{weak}" : "")))})" +
                                     (Statics.Length > 0 ? $" static=({string.Join(", ", Statics.Select(s => s?.ToString() ?? "null"))})" : "");
    }

    /// <summary>Calls the function: looks up (or traces and compiles) the program for these arguments and runs it.</summary>
    public object? Invoke(object?[] args)
    {
        var (entry, leaves) = Prepare(args);
        bool donating = _donate.Length > 0 && TraceStack.IsEager;
        Tensor[] outs;
        if (!donating) outs = Pjit.Primitive.Bind(leaves, entry.PjitParams);
        else
        {
            var mask = entry.DonatedLeaves ??= DonatedLeaves(args, leaves.Length);
            // The donated inputs are given up even when the call fails: the program may already have written into them.
            try { outs = Pjit.BindDonating(leaves, entry.PjitParams, mask); }
            finally { Donate(args); }
            KeepOutputsUsable(outs, leaves, mask);
        }
        return entry.OutDef.NodeKind == TreeDef.Kind.Leaf ? outs[0] : Tree.Unflatten(entry.OutDef, outs);
    }

    /// <summary>An output that shares its buffer with a donated input (an input returned unchanged, or a view of it from
    /// an interpreted call) gets a buffer object of its own over the same storage: the donated input is invalidated, the
    /// output stays usable, as in JAX.</summary>
    private static void KeepOutputsUsable(Tensor[] outs, Tensor[] leaves, bool[] donated)
    {
        for (int i = 0; i < outs.Length; i++)
        {
            var b = outs[i].Buffer;
            if (b is null || b.DonatedTo is null) continue;
            for (int k = 0; k < leaves.Length; k++)
                if (k < donated.Length && donated[k] && ReferenceEquals(leaves[k].Buffer, b))
                {
                    outs[i] = new Tensor(b.Alias(), outs[i].Shape, outs[i].WeakType);
                    break;
                }
        }
    }

    /// <summary>Per flattened argument leaf: whether it belongs to a donated argument (the same for every call of one
    /// signature).</summary>
    private bool[] DonatedLeaves(object?[] args, int leafCount)
    {
        var mask = new bool[leafCount];
        int at = 0;
        for (int i = 0; i < _arity; i++)
        {
            if (_static.Contains(i)) continue;
            int n = Tree.Leaves(args[i]).Count();
            if (_donate.Contains(i)) for (int k = 0; k < n; k++) mask[at + k] = true;
            at += n;
        }
        return mask;
    }

    private void Donate(object?[] args)
    {
        foreach (var d in _donate)
            foreach (var leaf in Tree.Leaves(args[d]))
                if (leaf.IsConcrete) leaf.Buffer?.MarkDonated(Name);
    }

    /// <summary>The optimized program, fusion groups and generated code for these arguments.</summary>
    public LoweredText Lower(object?[] args)
    {
        var (entry, _) = Prepare(args);
        return entry.Compiled.Executable.Describe();
    }

    private (Entry, Tensor[]) Prepare(object?[] args)
    {
        if (args.Length != _arity) throw new InvalidArgumentError($"jitted '{Name}' takes {_arity} arguments, got {args.Length}");
        object?[] dynamic;
        object?[] statics;
        if (_static.Length == 0) { dynamic = args; statics = []; }
        else
        {
            dynamic = new object?[_arity - _static.Length];
            statics = new object?[_static.Length];
            for (int i = 0, di = 0, si = 0; i < _arity; i++)
                if (Array.IndexOf(_static, i) >= 0) statics[si++] = args[i]; else dynamic[di++] = args[i];
        }
        List<Tensor> leaves;
        TreeDef def;
        if (AllTensors(dynamic))
        {
            // Fast path: plain tensor arguments share one cached structure.
            leaves = new List<Tensor>(dynamic.Length);
            foreach (var d in dynamic) leaves.Add((Tensor)d!);
            def = _flatDefs[Math.Min(dynamic.Length, _flatDefs.Length - 1)] ??= Tree.Structure(dynamic);
            if (def.NumLeaves != dynamic.Length) def = Tree.Structure(dynamic);
        }
        else (leaves, def) = Tree.Flatten(dynamic);
        var avals = new Aval[leaves.Count];
        for (int i = 0; i < avals.Length; i++) avals[i] = leaves[i].Aval;
        var sig = new Signature(def, avals, statics);
        Entry? entry;
        lock (_lock)
        {
            if (!_cache.TryGetValue(sig, out entry))
            {
                var reason = Reason(sig);
                entry = Trace(args, def, leaves, statics);
                _cache[sig] = entry;
                TraceCount++;
                _reasons.Add(reason);
                JitLog.Compile(Name, sig.Describe(), reason);
                if (_last is not null && !_last.Equals(sig)) _consecutiveRetraces++; else _consecutiveRetraces = 0;
                if (_consecutiveRetraces >= 5 && !_warnedRetrace)
                {
                    _warnedRetrace = true;
                    JitLog.Warn($"jitted function '{Name}' was retraced on each of its last {_consecutiveRetraces + 1} calls (latest: {reason}). " +
                                "Each new shape, dtype or static value compiles again: pad inputs to fixed shapes, or pass varying values as arrays instead of static arguments.");
                }
            }
            else _consecutiveRetraces = 0;
            _last = sig;
        }
        return (entry, leaves.ToArray());
    }

    private readonly TreeDef?[] _flatDefs = new TreeDef?[9];

    private static bool AllTensors(object?[] xs)
    {
        foreach (var x in xs) if (x is not Tensor) return false;
        return true;
    }

    private string Reason(Signature sig)
    {
        if (_last is null) return "first call";
        if (!_last.Def.Equals(sig.Def)) return $"new argument structure: {sig.Def} (was {_last.Def})";
        if (!_last.Statics.SequenceEqual(sig.Statics)) return $"new static value: ({string.Join(", ", sig.Statics)}) (was ({string.Join(", ", _last.Statics)}))";
        return $"new shapes/dtypes: {sig.Describe()} (was {_last.Describe()})";
    }

    private Entry Trace(object?[] args, TreeDef def, List<Tensor> leaves, object?[] statics)
    {
        TreeDef? outDef = null;
        var jaxpr = StagingTrace.TraceToJaxpr(flat =>
        {
            var dyn = (object?[])Tree.Unflatten(def, flat)!;
            var full = new object?[_arity];
            int di = 0, si = 0;
            for (int i = 0; i < _arity; i++) full[i] = _static.Contains(i) ? statics[si++] : dyn[di++];
            var r = _f(full);
            var (ol, od) = Tree.Flatten(r);
            outDef = od;
            return ol.ToArray();
        }, leaves.Select(l => l.Aval).ToArray(), "jit");
        return new Entry(new Pjit.Compiled(jaxpr, Name), outDef!, def);
    }
}

/// <summary>JX_LOG_COMPILES=1 logs every compile and its reason to standard error.</summary>
public static class JitLog
{
    public static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("JX_LOG_COMPILES") == "1";
    /// <summary>Where log lines go (standard error by default).</summary>
    public static Action<string> Sink { get; set; } = s => Console.Error.WriteLine(s);
    internal static void Compile(string name, string signature, string reason)
    {
        if (Enabled) Sink($"[jx] compiling '{name}' for {signature}: {reason}");
    }
    internal static void Warn(string message) => Sink($"[jx] warning: {message}");
}

public static partial class Transforms
{
    private static readonly ConditionalWeakTable<Delegate, JittedFunction> JitTable = new();

    private static T Register<T>(T d, JittedFunction j) where T : Delegate { JitTable.Add(d, j); return d; }

    /// <summary>The JittedFunction behind a delegate returned by Jit (for Lower, TraceCount, TraceReasons).</summary>
    public static JittedFunction JitInfo(Delegate jitted) =>
        JitTable.TryGetValue(jitted, out var j) ? j : throw new InvalidArgumentError("this delegate was not returned by Jit");

    private static string NameOf(Delegate f) => f.Method.Name.Contains('<') ? "lambda" : f.Method.Name;

    /// <summary>Compiles f: traced once per signature (structure, shapes, dtypes, weak types), optimized, fused into
    /// kernels and cached. Composes with every transform: Jit(Grad(f)), Grad(Jit(f)), Vmap(Jit(f)), nested Jit.</summary>
    /// <example><code>var step = Jit(ValueAndGrad&lt;Mlp, Tensor, Tensor&gt;(Loss)); var (loss, g) = step(p, x, y);</code></example>
    public static Func<TIn, TOut> Jit<TIn, TOut>(Func<TIn, TOut> f, int[]? donateArgnums = null)
    {
        var j = new JittedFunction(a => f((TIn)a[0]!), 1, null, donateArgnums, NameOf(f));
        return Register<Func<TIn, TOut>>(x => (TOut)j.Invoke([x])!, j);
    }

    public static Func<Tensor, Tensor> Jit(Func<Tensor, Tensor> f, int[]? donateArgnums = null)
    {
        var j = new JittedFunction(a => f((Tensor)a[0]!), 1, null, donateArgnums, NameOf(f));
        return Register<Func<Tensor, Tensor>>(x => (Tensor)j.Invoke([x])!, j);
    }

    public static Func<T1, T2, TOut> Jit<T1, T2, TOut>(Func<T1, T2, TOut> f, int[]? staticArgnums = null, int[]? donateArgnums = null)
    {
        var j = new JittedFunction(a => f((T1)a[0]!, (T2)a[1]!), 2, staticArgnums, donateArgnums, NameOf(f));
        return Register<Func<T1, T2, TOut>>((a, b) => (TOut)j.Invoke([a, b])!, j);
    }

    public static Func<T1, T2, T3, TOut> Jit<T1, T2, T3, TOut>(Func<T1, T2, T3, TOut> f, int[]? staticArgnums = null, int[]? donateArgnums = null)
    {
        var j = new JittedFunction(a => f((T1)a[0]!, (T2)a[1]!, (T3)a[2]!), 3, staticArgnums, donateArgnums, NameOf(f));
        return Register<Func<T1, T2, T3, TOut>>((a, b, c) => (TOut)j.Invoke([a, b, c])!, j);
    }

    public static Func<T1, T2, T3, T4, TOut> Jit<T1, T2, T3, T4, TOut>(Func<T1, T2, T3, T4, TOut> f, int[]? staticArgnums = null, int[]? donateArgnums = null)
    {
        var j = new JittedFunction(a => f((T1)a[0]!, (T2)a[1]!, (T3)a[2]!, (T4)a[3]!), 4, staticArgnums, donateArgnums, NameOf(f));
        return Register<Func<T1, T2, T3, T4, TOut>>((a, b, c, d) => (TOut)j.Invoke([a, b, c, d])!, j);
    }

    /// <summary>The optimized jaxpr, fusion groups and generated code of a jitted function for these arguments.</summary>
    public static LoweredText Lower<TIn, TOut>(this Func<TIn, TOut> jitted, TIn args) => JitInfo(jitted).Lower([args]);
    public static LoweredText Lower<T1, T2, TOut>(this Func<T1, T2, TOut> jitted, T1 a, T2 b) => JitInfo(jitted).Lower([a, b]);
    public static LoweredText Lower<T1, T2, T3, TOut>(this Func<T1, T2, T3, TOut> jitted, T1 a, T2 b, T3 c) => JitInfo(jitted).Lower([a, b, c]);
}
