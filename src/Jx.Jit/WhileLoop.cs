namespace Jx;

/// <summary>A while loop in a compiled program: the loop runs in the executor around the precompiled condition and
/// body programs. The body's kernel outputs live in a <see cref="LoopArena"/> (two buffer sets on alternate
/// iterations), so the carry is written into reused buffers rather than fresh arrays every iteration.</summary>
internal sealed class WhileStep(Eqn eqn, object[] inputs, int[] outSlots) : Step
{
    public Eqn Eqn { get; } = eqn;
    /// <summary>Per input: an int slot or a concrete Tensor (a literal).</summary>
    public object[] Inputs { get; } = inputs;
    public int[] OutSlots { get; } = outSlots;
    public ClosedJaxpr CondJaxpr { get; } = eqn.Params.Get<ClosedJaxpr>("cond_jaxpr");
    public ClosedJaxpr BodyJaxpr { get; } = eqn.Params.Get<ClosedJaxpr>("body_jaxpr");
    public int CondConsts { get; } = eqn.Params.Int("cond_nconsts");
    public int BodyConsts { get; } = eqn.Params.Int("body_nconsts");
    /// <summary>The compiled condition and body, set by the backend.</summary>
    public CpuExecutable? Cond { get; set; }
    public CpuExecutable? Body { get; set; }

    public override string Describe(Func<int, string> slotName) =>
        $"loop while ({string.Join(", ", Inputs.Select(i => i is int s ? slotName(s) : i.ToString()))}) -> {string.Join(", ", OutSlots.Select(slotName))}, cond of {Cond?.KernelCount ?? 0} steps, body of {Body?.KernelCount ?? 0} steps";

    /// <summary>Runs the loop on concrete inputs.</summary>
    public Tensor[] Run(Tensor[] ins)
    {
        int nc = CondConsts, nb = BodyConsts, nCarry = ins.Length - nc - nb;
        var condArgs = new Tensor[nc + nCarry];
        var bodyArgs = new Tensor[nb + nCarry];
        for (int i = 0; i < nc; i++) condArgs[i] = ins[i];
        for (int i = 0; i < nb; i++) bodyArgs[i] = ins[nc + i];
        var carry = ins[(nc + nb)..];
        var arena = new LoopArena(Body!.SlotCount);
        for (int step = 0; ; step++)
        {
            carry.CopyTo(condArgs, nc);
            if (Cond!.Execute(condArgs, null)[0].Buffer!.GetDouble(0) == 0) return carry;
            carry.CopyTo(bodyArgs, nb);
            arena.Parity = step & 1;
            var r = Body.Execute(bodyArgs, arena);
            for (int c = 0; c < nCarry; c++)
                // A carry passed through from an older iteration may sit in the buffer set the next iteration writes.
                carry[c] = arena.OwnsOtherParity(r[c]) ? LoopArena.Clone(r[c]) : r[c];
        }
    }
}
