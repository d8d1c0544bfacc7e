namespace Jx;

/// <summary>A strided read of a materialized buffer (slot) over a kernel's loop space: element at loop index i is
/// buffer[Offset + Σ i_k·Strides[k]]. Broadcast, transpose, slice, reverse and contiguous reshapes all become views.</summary>
internal sealed class View : IEquatable<View>
{
    public int Slot { get; }
    public int Offset { get; }
    public int[] Strides { get; }
    public DType DType { get; }
    public View(int slot, int offset, int[] strides, DType dtype) { Slot = slot; Offset = offset; Strides = strides; DType = dtype; }
    public bool Equals(View? o) => o is not null && o.Slot == Slot && o.Offset == Offset && o.DType == DType && o.Strides.AsSpan().SequenceEqual(Strides);
    public override bool Equals(object? obj) => obj is View v && Equals(v);
    public override int GetHashCode() { var h = new HashCode(); h.Add(Slot); h.Add(Offset); foreach (var s in Strides) h.Add(s); return h.ToHashCode(); }
    public override string ToString() => $"%{Slot}[{Offset}; {string.Join(",", Strides)}]";

    /// <summary>Whether this read, over a loop of <paramref name="loopShape"/>, covers its buffer whole and in order:
    /// offset 0 and row-major strides (any stride along a size-1 dim), so loop element i reads buffer element i.</summary>
    public bool IsWhole(int[] loopShape)
    {
        if (Offset != 0 || Strides.Length != loopShape.Length) return false;
        long stride = 1;
        for (int d = loopShape.Length - 1; d >= 0; d--)
        {
            if (loopShape[d] != 1 && Strides[d] != stride) return false;
            stride *= loopShape[d];
        }
        return true;
    }
}

/// <summary>A node of a kernel's per-element expression DAG (backend-neutral: CPU and CUDA code generators read it).</summary>
internal abstract record Expr(DType DType);
internal sealed record InputExpr(View View) : Expr(View.DType);
/// <summary>An iota fused into its consumer: the value at loop index i is the index itself, Offset + Σ i_k·Strides[k]
/// (the <see cref="View"/>'s slot is unused, −1), so no buffer holds it.</summary>
internal sealed record IotaExpr(View View) : Expr(View.DType);
/// <summary>A constant; <see cref="Exact"/> keeps 64-bit integers that a double cannot hold.</summary>
internal sealed record ConstExpr(double Value, DType Type, long? Exact = null) : Expr(Type);
/// <summary>An elementwise primitive applied to operands; Param carries integer_pow's y or round's method.</summary>
internal sealed record OpExpr(string Op, Expr[] Args, DType Type, int Param = 0) : Expr(Type)
{
    public bool Equals(OpExpr? o) => o is not null && o.Op == Op && o.Type == Type && o.Param == Param && o.Args.SequenceEqual(Args);
    public override int GetHashCode() { var h = new HashCode(); h.Add(Op); h.Add(Type); h.Add(Param); foreach (var a in Args) h.Add(a); return h.ToHashCode(); }
}

/// <summary>A fused loop nest: elementwise outputs over <see cref="LoopShape"/> (stored row-major), or one reduction
/// over <see cref="ReducedDims"/> whose result is stored row-major over the kept dims.</summary>
internal sealed class Kernel
{
    public required string Name { get; init; }
    public required int[] LoopShape { get; init; }
    public required List<(Expr Value, int Slot)> Outputs { get; init; }
    public ReduceKind? Reduction { get; init; }
    public int[] ReducedDims { get; init; } = [];
    /// <summary>The buffer views the kernel reads.</summary>
    public IEnumerable<View> Inputs() => Reads(withIotas: false);

    /// <summary>What the code generator indexes: the buffer views, and (with <paramref name="withIotas"/>) the affine
    /// index maps of fused iotas, whose slot is −1.</summary>
    public IEnumerable<View> Reads(bool withIotas = true)
    {
        var seen = new HashSet<View>();
        var stack = new Stack<Expr>(Outputs.Select(o => o.Value));
        while (stack.Count > 0)
        {
            var e = stack.Pop();
            if (e is InputExpr ie) { if (seen.Add(ie.View)) yield return ie.View; }
            else if (e is IotaExpr io) { if (withIotas && seen.Add(io.View)) yield return io.View; }
            else if (e is OpExpr oe) foreach (var a in oe.Args) stack.Push(a);
        }
    }
    public override string ToString()
    {
        var what = Reduction is ReduceKind k ? $"reduce_{k.ToString().ToLowerInvariant()} over dims ({string.Join(",", ReducedDims)})" : "elementwise";
        // An output of a multi-output kernel that uses an earlier output's value shows it by the earlier output's name.
        var named = new Dictionary<Expr, string>();
        var shown = new List<string>();
        foreach (var (value, slot) in Outputs)
        {
            shown.Add(Show(value, named, top: true));
            named.TryAdd(value, "%" + slot);
        }
        return $"{Name}: {what}, loop [{string.Join(",", LoopShape)}], outputs {string.Join(", ", Outputs.Select(o => "%" + o.Slot))} ← {string.Join("; ", shown)}";
    }
    internal static string Show(Expr e) => Show(e, null, top: true);

    private static string Show(Expr e, Dictionary<Expr, string>? named, bool top) =>
        !top && named is not null && e is OpExpr && named.TryGetValue(e, out var name) ? name : e switch
        {
            InputExpr i => i.View.ToString(),
            IotaExpr i => $"iota[{i.View.Offset}; {string.Join(",", i.View.Strides)}]",
            ConstExpr c => c.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
            OpExpr o => $"{o.Op}({string.Join(", ", o.Args.Select(a => Show(a, named, top: false)))})",
            _ => "?",
        };
}
