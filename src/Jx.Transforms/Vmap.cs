namespace Jx;

public static partial class Transforms
{
    /// <summary>Vectorizes f over a batch axis (jax.vmap). <paramref name="inAxes"/> has one entry per argument: the axis
    /// of that argument (all its leaves) to map over, negative counting from the end, or null for an argument that is the
    /// same for every member. <paramref name="outAxes"/> places the batch axis in every output leaf (null: the output must
    /// not depend on the batch). <paramref name="axisName"/> names the axis for collectives (Lax.Psum, AxisIndex, ...);
    /// <paramref name="axisSize"/> is needed only when no input is mapped.</summary>
    /// <example><code>
    /// var dots = Vmap((Tensor a, Tensor b) => Np.Dot(a, b))(A, B);       // row-wise dot products
    /// var perExample = Vmap(Grad&lt;Params, Tensor, Tensor&gt;(Loss), inAxes: [null, 0, 0]);
    /// </code></example>
    public static Func<TIn, TOut> Vmap<TIn, TOut>(Func<TIn, TOut> f, int? inAxes = 0, int? outAxes = 0, string? axisName = null, int? axisSize = null) =>
        x => (TOut)VmapCore(a => f((TIn)a[0]!), [x], [inAxes], outAxes, axisName, axisSize)!;

    public static Func<Tensor, Tensor> Vmap(Func<Tensor, Tensor> f, int? inAxes = 0, int? outAxes = 0, string? axisName = null, int? axisSize = null) =>
        x => (Tensor)VmapCore(a => f((Tensor)a[0]!), [x], [inAxes], outAxes, axisName, axisSize)!;

    public static Func<Tensor, Tensor, Tensor> Vmap(Func<Tensor, Tensor, Tensor> f, int?[]? inAxes = null, int? outAxes = 0, string? axisName = null, int? axisSize = null) =>
        (a, b) => (Tensor)VmapCore(x => f((Tensor)x[0]!, (Tensor)x[1]!), [a, b], inAxes ?? [0, 0], outAxes, axisName, axisSize)!;

    public static Func<T1, T2, TOut> Vmap<T1, T2, TOut>(Func<T1, T2, TOut> f, int?[]? inAxes = null, int? outAxes = 0, string? axisName = null, int? axisSize = null) =>
        (a, b) => (TOut)VmapCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], inAxes ?? [0, 0], outAxes, axisName, axisSize)!;

    public static Func<T1, T2, T3, TOut> Vmap<T1, T2, T3, TOut>(Func<T1, T2, T3, TOut> f, int?[]? inAxes = null, int? outAxes = 0, string? axisName = null, int? axisSize = null) =>
        (a, b, c) => (TOut)VmapCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!), [a, b, c], inAxes ?? [0, 0, 0], outAxes, axisName, axisSize)!;

    public static Func<T1, T2, T3, T4, TOut> Vmap<T1, T2, T3, T4, TOut>(Func<T1, T2, T3, T4, TOut> f, int?[]? inAxes = null, int? outAxes = 0, string? axisName = null, int? axisSize = null) =>
        (a, b, c, d) => (TOut)VmapCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!, (T4)x[3]!), [a, b, c, d], inAxes ?? [0, 0, 0, 0], outAxes, axisName, axisSize)!;

    /// <summary>The core of Vmap over an argument list with one axis entry per argument.</summary>
    internal static object? VmapCore(Func<object?[], object?> f, object?[] args, int?[] inAxes, int? outAxes, string? axisName, int? axisSize)
    {
        if (inAxes.Length != args.Length)
            throw new InvalidArgumentError($"Vmap: inAxes has {inAxes.Length} entries but the function takes {args.Length} argument(s); give one axis (or null) per argument");
        var flats = args.Select(a => Tree.Flatten(a)).ToArray();
        var leaves = new List<Tensor>();
        var dims = new List<int?>();
        var sizes = new List<string>();
        int? size = axisSize;
        for (int k = 0; k < args.Length; k++)
        {
            foreach (var leaf in flats[k].Leaves)
            {
                int? d = null;
                if (inAxes[k] is int ax)
                {
                    if (ax < -leaf.Rank || ax >= leaf.Rank)
                        throw new AxisError($"Vmap: inAxes[{k}] = {ax} is out of range for argument {k} of shape {leaf.Shape} (rank {leaf.Rank})");
                    d = ax < 0 ? ax + leaf.Rank : ax;
                    sizes.Add($"argument {k} of shape {leaf.Shape} has size {leaf.Shape[d.Value]} along axis {d}");
                    if (size is null) size = leaf.Shape[d.Value];
                    else if (size != leaf.Shape[d.Value])
                        throw new ShapeError($"Vmap got inconsistent sizes for the mapped axis:\n  " + string.Join("\n  ", sizes) + (axisSize is int s0 ? $"\n  axisSize = {s0}" : ""));
                }
                leaves.Add(leaf);
                dims.Add(d);
            }
        }
        if (size is null)
            throw new InvalidArgumentError("Vmap must have at least one non-null value in inAxes, or an axisSize");
        var axis = new BatchAxis(axisName, size.Value);
        TreeDef? outDef = null;
        var outsFlat = new List<Tensor>();
        using (var scope = TraceStack.NewMain("vmap", m => new BatchTrace(m), axis))
        using (axisName is null ? null : AxisEnv.Push(axisName, size.Value, scope.Main))
        {
            var trace = (BatchTrace)scope.Main.Trace;
            var tracers = leaves.Select((l, i) => dims[i] is null ? l : (Tensor)new BatchTracer(trace, l, dims[i])).ToList();
            var args2 = new object?[args.Length];
            int off = 0;
            for (int k = 0; k < args.Length; k++)
            {
                int n = flats[k].Leaves.Count;
                args2[k] = Tree.Unflatten(flats[k].Def, tracers.GetRange(off, n));
                off += n;
            }
            var r = f(args2);
            var (ol, od) = Tree.Flatten(r);
            outDef = od;
            foreach (var o in ol)
            {
                var t = (BatchTracer)TraceStack.FullRaise(trace, o);
                if (outAxes is null)
                {
                    if (t.BatchDim is not null)
                        throw new InvalidArgumentError($"Vmap has a mapped output (shape {t.Aval.Shape}) but outAxes is null; give outAxes an axis or make the output independent of the batch");
                    outsFlat.Add(t.Value);
                    continue;
                }
                int rank = t.Aval.Rank + 1;
                int oa = outAxes.Value;
                if (oa < -rank || oa >= rank) throw new AxisError($"Vmap: outAxes = {oa} is out of range for an output of rank {rank - 1} (batched rank {rank})");
                outsFlat.Add(Batching.MoveTo(t.Value, t.BatchDim, oa < 0 ? oa + rank : oa, size.Value));
            }
        }
        return Tree.Unflatten(outDef!, outsFlat.Select(TraceStack.FullLower));
    }
}
