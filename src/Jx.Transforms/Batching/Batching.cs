namespace Jx;

/// <summary>The batching-rule registry and the shared machinery of Vmap: moving batch dimensions, running a function
/// batched, and the collective rules for named axes.</summary>
public static class Batching
{
    internal static readonly Dictionary<Primitive, BatchRule> RulesTable = [];
    public static IReadOnlyDictionary<Primitive, BatchRule> Rules { get { RuleLoader.EnsureLoaded(); return RulesTable; } }
    public static void Def(Primitive p, BatchRule rule) => RulesTable[p] = rule;

    /// <summary>The axis of the batch trace whose rule is running now (null outside rules), so that a rule which batches a
    /// sub-function over "the same axis" (pjit, cond, scan, while, custom_jvp/vjp, checkpoint) keeps the axis's name.</summary>
    [ThreadStatic] private static BatchAxis? _ruleAxis;

    /// <summary>The axis of the running rule when it has this size, else an unnamed axis of this size: for rules that
    /// batch a sub-function later (a custom_vjp's bwd, a checkpointed function) and must keep the axis name.</summary>
    internal static BatchAxis RuleAxis(int size) => _ruleAxis is { } a && a.Size == size ? a : new BatchAxis(null, size);

    internal static (Tensor[], int?[]) Apply(Primitive p, Tensor[] vals, int?[] dims, Params ps, BatchAxis axis)
    {
        RuleLoader.EnsureLoaded();
        if (!RulesTable.TryGetValue(p, out var rule))
            throw new NotImplementedException($"Batching rule for '{p.Name}' not implemented");
        var saved = _ruleAxis;
        _ruleAxis = axis;
        try { return rule(vals, dims, ps, axis.Size); }
        finally { _ruleAxis = saved; }
    }

    // ---------------- helpers used by the rules ----------------

    /// <summary>x with its batch dim moved to position <paramref name="to"/> (broadcast first when unbatched).</summary>
    public static Tensor MoveTo(Tensor x, int? from, int to, int size)
    {
        if (from is null) return Broadcast(x, size, to);
        if (from.Value == to) return x;
        var perm = Enumerable.Range(0, x.Rank).Where(i => i != from.Value).ToList();
        perm.Insert(to, from.Value);
        return Lax.Transpose(x, perm.ToArray());
    }

    /// <summary>An unbatched value repeated along a new batch dim at position <paramref name="at"/>.</summary>
    public static Tensor Broadcast(Tensor x, int size, int at)
    {
        var shape = x.Shape.ToList();
        shape.Insert(at, size);
        var bd = Enumerable.Range(0, x.Rank).Select(i => i < at ? i : i + 1).ToArray();
        return Lax.BroadcastInDim(x, new Shape(shape.ToArray()), bd);
    }

    /// <summary>Every value batched at dim 0.</summary>
    public static Tensor[] AllAt0(Tensor[] vals, int?[] dims, int size) => vals.Select((v, i) => MoveTo(v, dims[i], 0, size)).ToArray();

    /// <summary>The rule of a primitive that acts elementwise on operands of one shape: operands batched at the same dim
    /// stay there; otherwise all move to dim 0 (unbatched ones are broadcast).</summary>
    public static BatchRule Elementwise(Primitive p) => (vals, dims, ps, size) =>
    {
        var batched = dims.Where(d => d is not null).Distinct().ToArray();
        if (batched.Length == 1 && dims.All(d => d is not null))
            return (p.Bind(vals, ps), Enumerable.Repeat(batched[0], p.MultipleResults ? 8 : 1).ToArray());
        var moved = AllAt0(vals, dims, size);
        var outs = p.Bind(moved, ps);
        return (outs, outs.Select(_ => (int?)0).ToArray());
    };

    /// <summary>A rule for single-operand primitives whose params name axes of the operand: the operand moves to
    /// dim 0 and <paramref name="shift"/> rewrites the params for the extra leading dim.</summary>
    public static BatchRule WithLeadingBatch(Primitive p, Func<Params, Params> shift) => (vals, dims, ps, size) =>
    {
        var x = MoveTo(vals[0], dims[0], 0, size);
        var rest = vals.Skip(1).Select((v, i) => dims[i + 1] is null ? v : throw new NotImplementedException($"Batching '{p.Name}' over a batched auxiliary operand is not supported")).ToArray();
        var outs = p.Bind([x, .. rest], shift(ps));
        return (outs, outs.Select(_ => (int?)0).ToArray());
    };

    public static int[] Shift(int[] axes) => axes.Select(a => a + 1).ToArray();

    /// <summary>Runs f on values batched along <paramref name="dims"/> and returns outputs batched at dim 0. Called from a
    /// batching rule with an unnamed axis of the rule's size, f runs over the rule's own axis, name included (as JAX
    /// batches a sub-jaxpr with the enclosing axis data), so collectives over that name inside f see the batch.</summary>
    public static Tensor[] RunBatched(Func<Tensor[], Tensor[]> f, Tensor[] vals, int?[] dims, BatchAxis axis)
    {
        if (axis.Name is null && _ruleAxis is { Name: not null } outer && outer.Size == axis.Size) axis = outer;
        using var scope = TraceStack.NewMain("vmap", m => new BatchTrace(m), axis);
        using var env = axis.Name is null ? null : AxisEnv.Push(axis.Name, axis.Size, scope.Main);
        var trace = (BatchTrace)scope.Main.Trace;
        var ins = vals.Select((v, i) => dims[i] is null ? v : (Tensor)new BatchTracer(trace, v, dims[i])).ToArray();
        var outs = f(ins);
        return outs.Select(o =>
        {
            var t = (BatchTracer)TraceStack.FullRaise(trace, o);
            return MoveTo(t.Value, t.BatchDim, 0, axis.Size);
        }).ToArray();
    }

    // ---------------- collectives over this trace's named axis ----------------

    internal static (Tensor[], int?[]) Collective(Primitive p, Tensor[] vals, int?[] dims, Params ps, int size)
    {
        switch (p.Name)
        {
            case "axis_index":
                return ([Lax.Iota(DType.Int32, size)], [0]);
            case "all_gather":
                return ([MoveTo(vals[0], dims[0], 0, size)], [null]);
            case "psum":
                if (dims[0] is int d) return ([Lax.ReduceSum(vals[0], [d])], [null]);
                return ([Np.Multiply(vals[0], Np.Full([], size, vals[0].DType))], [null]);
            case "pmax":
                return dims[0] is int dm ? ([Lax.ReduceMax(vals[0], [dm])], [null]) : ([vals[0]], [null]);
            case "pmin":
                return dims[0] is int dn ? ([Lax.ReduceMin(vals[0], [dn])], [null]) : ([vals[0]], [null]);
            default:
                throw new NotImplementedException($"collective '{p.Name}' has no Vmap rule");
        }
    }
}
