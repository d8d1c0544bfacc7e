namespace Jx;

/// <summary>One step of a compiled program: a fused generated kernel, or a library call (BLAS matmul, convolution,
/// gather, sort, ...) that runs the primitive's native kernel.</summary>
internal abstract class Step
{
    public abstract string Describe(Func<int, string> slotName);
}

internal sealed class KernelStep(Kernel kernel) : Step
{
    public Kernel Kernel { get; } = kernel;
    /// <summary>Number of outputs (the range the generated method iterates over).</summary>
    public long Total { get; } = kernel.Reduction is null
        ? kernel.LoopShape.Aggregate(1L, (a, b) => a * b)
        : kernel.LoopShape.Where((_, d) => !kernel.ReducedDims.Contains(d)).Aggregate(1L, (a, b) => a * b);
    /// <summary>Elements the loop nest visits (decides whether to run in parallel).</summary>
    public long Work { get; } = kernel.LoopShape.Aggregate(1L, (a, b) => a * b);
    public Action<nint[], long, long>? Compiled { get; set; }
    public int[] InputSlots { get; set; } = [];
    public override string Describe(Func<int, string> slotName) => Kernel.ToString();
}

internal sealed class LibraryStep(Eqn eqn, object[] inputs, int[] outSlots) : Step
{
    public Eqn Eqn { get; } = eqn;
    /// <summary>Per input: an int slot or a concrete Tensor (a literal).</summary>
    public object[] Inputs { get; } = inputs;
    public int[] OutSlots { get; } = outSlots;
    public Aval[] OutAvals { get; } = eqn.Outputs.Select(o => o.Aval).ToArray();
    public override string Describe(Func<int, string> slotName) =>
        $"library {Eqn.Primitive.Name}{Eqn.Params} ({string.Join(", ", Inputs.Select(i => i is int s ? slotName(s) : i.ToString()))}) -> {string.Join(", ", OutSlots.Select(slotName))}";
}

/// <summary>The fused program: slots for every materialized value, and the steps that fill them.</summary>
internal sealed class Plan
{
    public required Aval[] SlotAvals { get; init; }
    public required int[] InputSlots { get; init; }
    public required (int Slot, Tensor Value)[] ConstSlots { get; init; }
    /// <summary>Per jaxpr output: a slot, or a literal tensor.</summary>
    public required object[] Outputs { get; init; }
    public required List<Step> Steps { get; init; }
    public int KernelCount => Steps.Count;

    public string Describe()
    {
        string N(int s) => $"%{s}:{SlotAvals[s]}";
        var sb = new System.Text.StringBuilder();
        sb.AppendLine($"inputs {string.Join(", ", InputSlots.Select(N))}; constants {string.Join(", ", ConstSlots.Select(c => N(c.Slot)))}");
        for (int i = 0; i < Steps.Count; i++) sb.AppendLine($"[{i}] {Steps[i].Describe(N)}");
        sb.Append($"outputs ({string.Join(", ", Outputs.Select(o => o is int s ? N(s) : o.ToString()))})");
        return sb.ToString();
    }
}

/// <summary>Groups a jaxpr's equations into kernels. Elementwise chains fuse freely; broadcast, transpose, slice, reverse,
/// squeeze, expand_dims and contiguous reshapes become index maps (views) on reads; an iota becomes the index itself; a
/// reduction fuses its elementwise producers (at most one reduction per kernel); values used more than once are
/// materialized unless they are cheap views; everything else is a library call.</summary>
internal static class Fusion
{
    private static readonly HashSet<string> ViewOps = ["broadcast_in_dim", "reshape", "transpose", "squeeze", "expand_dims", "rev", "slice"];
    private static readonly HashSet<string> ReduceOps = ["reduce_sum", "reduce_max", "reduce_min", "reduce_prod"];

    internal static bool IsElementwise(Primitive p) => p.Family == "elementwise" && CodeGen.Supports(p.Name);
    private static bool IsFusible(Eqn e) => e.Outputs.Count == 1 && (IsElementwise(e.Primitive) || ViewOps.Contains(e.Primitive.Name) ||
                                                                  ReduceOps.Contains(e.Primitive.Name) || e.Primitive.Name == "iota");
    private static bool IsCheap(Eqn e) => ViewOps.Contains(e.Primitive.Name) || e.Primitive.Name is "convert_element_type" or "neg" or "iota";

    public static Plan Build(ClosedJaxpr cj)
    {
        var j = cj.Jaxpr;
        var producer = new Dictionary<Var, Eqn>(ReferenceEqualityComparer.Instance);
        var uses = new Dictionary<Var, int>(ReferenceEqualityComparer.Instance);
        foreach (var e in j.Eqns)
        {
            foreach (var o in e.Outputs) producer[o] = e;
            foreach (var a in e.Inputs) if (a is Var v) uses[v] = uses.GetValueOrDefault(v) + 1;
        }
        foreach (var o in j.OutVars) if (o is Var v) uses[v] = uses.GetValueOrDefault(v) + 1;

        // Which values are materialized (get a slot).
        var materialized = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        foreach (var v in j.InVars) materialized.Add(v);
        foreach (var v in j.ConstVars) materialized.Add(v);
        foreach (var o in j.OutVars) if (o is Var v) materialized.Add(v);
        foreach (var e in j.Eqns)
        {
            if (!IsFusible(e))
            {
                foreach (var a in e.Inputs) if (a is Var v) materialized.Add(v);
                foreach (var o in e.Outputs) materialized.Add(o);
            }
            else if (ReduceOps.Contains(e.Primitive.Name)) materialized.Add(e.Outputs[0]);
            else if (uses.GetValueOrDefault(e.Outputs[0]) > 1 && !IsCheap(e) && !Duplicable(e.Outputs[0])) materialized.Add(e.Outputs[0]);
        }
        // Constants that hold one repeated value (zeros, ones...) are compiled into the kernels as literals.
        var splats = new Dictionary<Var, double>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < j.ConstVars.Count; i++)
            if (cj.Consts[i].IsConcrete && cj.Consts[i].Buffer!.IsSplat) splats[j.ConstVars[i]] = cj.Consts[i].Buffer!.GetDouble(0);

        // A value used a few times, each time elementwise (never expanded by a broadcast), is recomputed in each consumer
        // rather than stored: each consumer reads each element once, so recomputation costs no more than a store + load.
        bool Duplicable(Var v)
        {
            int n = uses.GetValueOrDefault(v);
            if (n > 3 || j.OutVars.Contains(v)) return false;
            foreach (var e in j.Eqns)
                if (e.Inputs.Contains(v) && (!IsFusible(e) || e.Primitive.Name == "broadcast_in_dim")) return false;
            return true;
        }

        // Reads through a reshape of a non-contiguous view, or other unsupported maps, force more materialization: the
        // expression builder reports such values and we iterate.
        while (true)
        {
            var slots = new Dictionary<Var, int>(ReferenceEqualityComparer.Instance);
            var avals = new List<Aval>();
            int Slot(Var v) { if (!slots.TryGetValue(v, out var s)) { s = avals.Count; slots[v] = s; avals.Add(v.Aval); } return s; }
            foreach (var v in j.InVars) Slot(v);
            foreach (var v in j.ConstVars) Slot(v);
            var steps = new List<Step>();
            var extra = new HashSet<Var>(ReferenceEqualityComparer.Instance);
            int kernelId = 0;
            foreach (var e in j.Eqns)
            {
                if (!IsFusible(e))
                {
                    var ins = e.Inputs.Select(a => a is Literal l ? (object)l.Value : Slot((Var)a)).ToArray();
                    var outSlots = e.Outputs.Select(Slot).ToArray();
                    steps.Add(e.Primitive == ControlFlow.Scan ? new ScanStep(e, ins, outSlots)
                        : e.Primitive == ControlFlow.While ? new WhileStep(e, ins, outSlots)
                        : new LibraryStep(e, ins, outSlots));
                    continue;
                }
                var root = e.Outputs[0];
                if (!materialized.Contains(root)) continue;
                var builder = new ExprBuilder(producer, materialized, Slot, extra, splats);
                Kernel k;
                if (ReduceOps.Contains(e.Primitive.Name))
                {
                    var input = e.Inputs[0];
                    var loop = input.Aval.Shape.ToArray();
                    var value = builder.Build(input, IndexMap.Identity(loop.Length));
                    var kind = e.Primitive.Name switch { "reduce_sum" => ReduceKind.Sum, "reduce_max" => ReduceKind.Max, "reduce_min" => ReduceKind.Min, _ => ReduceKind.Prod };
                    k = new Kernel { Name = $"k{kernelId++}", LoopShape = loop, Outputs = [(value, Slot(root))], Reduction = kind, ReducedDims = e.Params.Ints("axes").OrderBy(a => a).ToArray() };
                }
                else
                {
                    var loop = root.Aval.Shape.ToArray();
                    var value = builder.BuildRoot(root, IndexMap.Identity(loop.Length));
                    k = new Kernel { Name = $"k{kernelId++}", LoopShape = loop, Outputs = [(value, Slot(root))] };
                }
                steps.Add(new KernelStep(k));
            }
            if (extra.Count > 0)
            {
                foreach (var v in extra) materialized.Add(v);
                continue;
            }
            foreach (var o in j.OutVars) if (o is Var v) Slot(v);
            return new Plan
            {
                SlotAvals = avals.ToArray(),
                InputSlots = j.InVars.Select(v => slots[v]).ToArray(),
                ConstSlots = j.ConstVars.Select((v, i) => (slots[v], cj.Consts[i])).ToArray(),
                Outputs = j.OutVars.Select(o => o is Literal l ? (object)l.Value : slots[(Var)o]).ToArray(),
                Steps = steps,
            };
        }
    }
}

/// <summary>An affine map from a kernel's loop index to a value's index: either per-dimension
/// (idx[a] = Base[a] + Σ Coef[a][l]·loop[l]) or flat (row-major flat index = FlatBase + Σ FlatCoef[l]·loop[l]).</summary>
internal sealed class IndexMap
{
    public int[]? Base;
    public int[][]? Coef;
    public int FlatBase;
    public int[]? FlatCoef;
    public bool IsFlat => FlatCoef is not null;
    public int LoopRank;

    public static IndexMap Identity(int rank) => new()
    {
        LoopRank = rank,
        Base = new int[rank],
        Coef = Enumerable.Range(0, rank).Select(a => Enumerable.Range(0, rank).Select(l => l == a ? 1 : 0).ToArray()).ToArray(),
    };

    public int[] Row(int a) => Coef![a];

    /// <summary>The same map viewed as a flat row-major index of a value of the given shape.</summary>
    public IndexMap ToFlat(Shape shape)
    {
        if (IsFlat) return this;
        var rm = shape.Strides();
        var fc = new int[LoopRank];
        int fb = 0;
        for (int a = 0; a < rm.Length; a++)
        {
            fb += Base![a] * rm[a];
            for (int l = 0; l < LoopRank; l++) fc[l] += Coef![a][l] * rm[a];
        }
        return new IndexMap { LoopRank = LoopRank, FlatBase = fb, FlatCoef = fc };
    }
}

/// <summary>Builds a kernel's expression tree by walking producers from a root down to materialized values, carrying
/// the index map through view operations.</summary>
internal sealed class ExprBuilder(Dictionary<Var, Eqn> producer, HashSet<Var> materialized, Func<Var, int> slot, HashSet<Var> needsMaterialization,
    Dictionary<Var, double> splats)
{
    internal static ConstExpr Const(Tensor t) =>
        new(t.Buffer!.GetDouble(0), t.DType, t.DType == DType.Int64 ? t.Buffer.Get<long>(0) : null);

    /// <summary>The expression computing a root value from its producer (the root itself is what the kernel stores).</summary>
    public Expr BuildRoot(Var root, IndexMap map) => Expand(root, map);

    public Expr Build(Atom a, IndexMap map)
    {
        if (a is Literal l) return Const(l.Value);
        var v = (Var)a;
        if (splats.TryGetValue(v, out var splat)) return new ConstExpr(splat, v.Aval.DType);
        if (materialized.Contains(v) || !producer.ContainsKey(v)) return Leaf(v, map);
        return Expand(v, map);
    }

    private Expr Expand(Var v, IndexMap map)
    {
        var e = producer[v];
        var p = e.Params;
        switch (e.Primitive.Name)
        {
            case "broadcast_in_dim":
            {
                var x = e.Inputs[0];
                // A broadcast constant is the same constant at every index, whatever the map.
                if (x is Literal lit) return Const(lit.Value);
                if (x is Var xv && splats.TryGetValue(xv, out var sv)) return new ConstExpr(sv, xv.Aval.DType);
                if (map.IsFlat) return Force(x, v, map);
                var bd = p.Ints("broadcast_dimensions");
                var m = new IndexMap { LoopRank = map.LoopRank, Base = new int[x.Aval.Rank], Coef = new int[x.Aval.Rank][] };
                for (int k = 0; k < x.Aval.Rank; k++)
                {
                    if (x.Aval.Shape[k] == 1) { m.Base[k] = 0; m.Coef[k] = new int[map.LoopRank]; }
                    else { m.Base[k] = map.Base![bd[k]]; m.Coef[k] = map.Row(bd[k]); }
                }
                return Build(x, m);
            }
            case "transpose":
            {
                if (map.IsFlat) return Force(e.Inputs[0], v, map);
                var perm = p.Ints("permutation");
                var m = new IndexMap { LoopRank = map.LoopRank, Base = new int[perm.Length], Coef = new int[perm.Length][] };
                for (int i = 0; i < perm.Length; i++) { m.Base[perm[i]] = map.Base![i]; m.Coef[perm[i]] = map.Row(i); }
                return Build(e.Inputs[0], m);
            }
            case "slice":
            {
                if (map.IsFlat) return Force(e.Inputs[0], v, map);
                var start = p.Ints("start_indices");
                var strides = p["strides"] is null ? Enumerable.Repeat(1, start.Length).ToArray() : p.Ints("strides");
                var m = new IndexMap { LoopRank = map.LoopRank, Base = new int[start.Length], Coef = new int[start.Length][] };
                for (int k = 0; k < start.Length; k++) { m.Base[k] = start[k] + strides[k] * map.Base![k]; m.Coef[k] = map.Row(k).Select(c => c * strides[k]).ToArray(); }
                return Build(e.Inputs[0], m);
            }
            case "rev":
            {
                if (map.IsFlat) return Force(e.Inputs[0], v, map);
                var dims = p.Ints("dimensions");
                var shape = e.Inputs[0].Aval.Shape;
                var m = new IndexMap { LoopRank = map.LoopRank, Base = (int[])map.Base!.Clone(), Coef = map.Coef!.Select(r => (int[])r.Clone()).ToArray() };
                foreach (var d in dims) { m.Base[d] = shape[d] - 1 - map.Base![d]; m.Coef[d] = map.Row(d).Select(c => -c).ToArray(); }
                return Build(e.Inputs[0], m);
            }
            case "iota":
            {
                // The index along the iota's dimension is affine in the loop index (not under a flat map, where it
                // would need a division: then the iota is materialized by a kernel of its own).
                if (map.IsFlat) return Force(v, v, map);
                int d = p.Int("dimension");
                return new IotaExpr(new View(-1, map.Base![d], map.Row(d), v.Aval.DType));
            }
            case "squeeze":
            case "expand_dims":
            case "reshape":
                // A reshape keeps the row-major flat index: read the operand with the flat map.
                return Build(e.Inputs[0], map.ToFlat(v.Aval.Shape));
            default:
            {
                // Elementwise: operands share the output's index space.
                var args = e.Inputs.Select(x => Build(x, map)).ToArray();
                return CodeGen.MakeOp(e, args);
            }
        }
    }

    /// <summary>A view op under a flat map cannot be expressed affinely: materialize the value it produces.</summary>
    private Expr Force(Atom x, Var v, IndexMap map)
    {
        needsMaterialization.Add(v);
        return new ConstExpr(0, v.Aval.DType);
    }

    private Expr Leaf(Var v, IndexMap map)
    {
        var shape = v.Aval.Shape;
        if (map.IsFlat) return new InputExpr(new View(slot(v), map.FlatBase, map.FlatCoef!, v.Aval.DType));
        var rm = shape.Strides();
        int offset = 0;
        var strides = new int[map.LoopRank];
        for (int a = 0; a < shape.Rank; a++)
        {
            offset += map.Base![a] * rm[a];
            for (int l = 0; l < map.LoopRank; l++) strides[l] += map.Coef![a][l] * rm[a];
        }
        return new InputExpr(new View(slot(v), offset, strides, v.Aval.DType));
    }
}
