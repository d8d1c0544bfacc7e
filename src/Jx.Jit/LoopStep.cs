namespace Jx;

/// <summary>A loop of a compiled program (scan, while): it runs in the executor around its bodies' own compiled
/// programs, which the backend compiles ahead of time with <see cref="CompileBodies"/>.</summary>
internal abstract class LoopStep(Eqn eqn, object[] inputs, int[] outSlots) : Step
{
    public Eqn Eqn { get; } = eqn;
    /// <summary>Per input: an int slot or a concrete Tensor (a literal).</summary>
    public object[] Inputs { get; } = inputs;
    public int[] OutSlots { get; } = outSlots;

    /// <summary>Compiles the loop's bodies with the backend's compiler (jaxpr, name suffix → program).</summary>
    public abstract void CompileBodies(Func<ClosedJaxpr, string, CpuExecutable> compile);

    /// <summary>Runs the loop on concrete inputs, producing values of the given avals. <paramref name="into"/> gives, per
    /// output index, a reusable array for an output listed in <see cref="WritesFresh"/> (or null: allocate one).</summary>
    public abstract Tensor[] Run(Tensor[] ins, Aval[] outAvals, Func<int, Array?>? into = null);

    /// <summary>Whether the loop writes output <paramref name="output"/> into an array of its own that nothing else
    /// references (so the program's <see cref="BufferPlan"/> may hand it a reused one).</summary>
    public virtual bool WritesFresh(int output) => false;

    /// <summary>Whether a value passed as input <paramref name="input"/> may still be referenced by the loop's outputs
    /// (true unless the loop only copies out of it).</summary>
    public virtual bool KeepsReference(int input) => true;

    protected string Operands(Func<int, string> slotName) =>
        $"({string.Join(", ", Inputs.Select(i => i is int s ? slotName(s) : i.ToString()))}) -> {string.Join(", ", OutSlots.Select(slotName))}";
}

/// <summary>Buffers of a loop body's values, reused across iterations: the outputs of its kernels and products, the
/// ys of loops nested in it, and the xs rows a scan hands it. Slot s of iteration i lives in set i mod 2, so a value
/// produced in iteration i is intact while iteration i + 1 reads it.</summary>
internal sealed class LoopArena(int slots)
{
    private readonly Array?[] _even = new Array?[slots], _odd = new Array?[slots];
    public int Parity { get; set; }

    /// <summary>The buffer for a slot's value in the current set, allocated on first use.</summary>
    public Array Get(int slot, Aval aval)
    {
        var set = Parity == 0 ? _even : _odd;
        var a = set[slot];
        if (a is null || a.Length != aval.Size) set[slot] = a = KernelUtil.NewUninitialized(aval.DType, aval.Size);
        return a;
    }

    /// <summary>A carry produced by the current iteration, made safe to read in the next one: a value passed through
    /// from an older iteration sits in the other set, which the next iteration overwrites, so it is copied out.</summary>
    public Tensor Carry(Tensor t) => OwnsOtherParity(t) ? KernelUtil.CopyOf(t) : t;

    private bool OwnsOtherParity(Tensor t)
    {
        if (t.Buffer!.IsSplat) return false;
        var raw = t.Buffer.RawArray();
        var other = Parity == 0 ? _odd : _even;
        foreach (var a in other) if (ReferenceEquals(a, raw)) return true;
        return false;
    }
}
