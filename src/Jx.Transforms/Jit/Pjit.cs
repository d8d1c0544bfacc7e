namespace Jx;

/// <summary>The staged call of a jitted function (JAX's pjit): one equation holding the function's jaxpr. Its eager
/// kernel runs the compiled executable; differentiation and batching trace through the inner jaxpr.</summary>
public static class Pjit
{
    /// <summary>Holds the executable of one jaxpr, compiled on first use.</summary>
    internal sealed class Compiled(ClosedJaxpr jaxpr, string name)
    {
        private IExecutable? _exe;
        private readonly object _lock = new();
        public ClosedJaxpr Jaxpr { get; } = jaxpr;
        public string Name { get; } = name;
        public IExecutable Executable
        {
            get
            {
                if (_exe is not null) return _exe;
                lock (_lock) return _exe ??= JitBackends.Current.Compile(Jaxpr, Name);
            }
        }
        public override bool Equals(object? obj) => obj is Compiled c && c.Jaxpr.Equals(Jaxpr);
        public override int GetHashCode() => Jaxpr.GetHashCode();
        public override string ToString() => Name;
    }

    internal static ClosedJaxpr JaxprOf(Params p) => p.Get<ClosedJaxpr>("jaxpr");

    public static readonly Primitive Primitive = new("pjit", "jit",
        (ins, p) =>
        {
            var j = JaxprOf(p);
            var expected = j.InAvals;
            if (ins.Length != expected.Length) throw new InvalidArgumentError($"pjit '{p.Get<string>("name")}' takes {expected.Length} inputs, got {ins.Length}");
            for (int i = 0; i < ins.Length; i++)
                if (ins[i].Shape != expected[i].Shape || ins[i].DType != expected[i].DType)
                    throw new ShapeError($"pjit '{p.Get<string>("name")}' input {i} expects {expected[i]}, got {ins[i]}");
            return j.OutAvals;
        },
        (xs, p, o) =>
        {
            var c = (Compiled)p.Get<OpaqueParam>("compiled").Value;
            return c.Executable.Run(xs);
        },
        multipleResults: true);

    internal static Tensor[] Bind(Compiled c, Tensor[] args) =>
        Primitive.Bind(args, Params.Of(("jaxpr", c.Jaxpr), ("name", c.Name), ("compiled", new OpaqueParam(c))));

    internal static void RegisterRules()
    {
        // Differentiation and batching run through the inner jaxpr (inlined under the transform).
        Ad.DefJvp(Primitive, (xs, ts, p) =>
        {
            var j = JaxprOf(p);
            return JvpFlat.Run(a => j.Call(a), xs, ts);
        });
        Batching.Def(Primitive, (vals, dims, p, size) =>
        {
            var j = JaxprOf(p);
            var outs = Batching.RunBatched(a => j.Call(a), vals, dims, new BatchAxis(null, size));
            return (outs, outs.Select(_ => (int?)0).ToArray());
        });
    }
}
