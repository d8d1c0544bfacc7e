namespace Jx;

/// <summary>A while loop in a compiled program: the loop runs in the executor around the precompiled condition and
/// body programs. A body of fused kernels and float products runs over raw pointers (<see cref="PointerLoop"/>, where
/// a carry that only accumulates a product is updated in one buffer); otherwise the body's kernel outputs live in a
/// <see cref="LoopArena"/>. Either way the carry lives in reused buffers (two sets used on alternate iterations)
/// rather than fresh arrays every iteration.</summary>
internal sealed class WhileStep(Eqn eqn, object[] inputs, int[] outSlots) : LoopStep(eqn, inputs, outSlots)
{
    public ClosedJaxpr CondJaxpr { get; } = eqn.Params.Get<ClosedJaxpr>("cond_jaxpr");
    public ClosedJaxpr BodyJaxpr { get; } = eqn.Params.Get<ClosedJaxpr>("body_jaxpr");
    public int CondConsts { get; } = eqn.Params.Int("cond_nconsts");
    public int BodyConsts { get; } = eqn.Params.Int("body_nconsts");
    /// <summary>The compiled condition and body.</summary>
    public CpuExecutable? Cond { get; private set; }
    public CpuExecutable? Body { get; private set; }

    public override void CompileBodies(Func<ClosedJaxpr, string, CpuExecutable> compile)
    {
        Cond = compile(CondJaxpr, "while_cond");
        Body = compile(BodyJaxpr, "while_body");
        BodyLoop = PointerLoop.TryBuild(Body, BodyConsts, BodyJaxpr.Jaxpr.InVars.Count - BodyConsts, 0);
    }

    /// <summary>The body as a loop over raw pointers, or null when it has other steps.</summary>
    public PointerLoop? BodyLoop { get; private set; }

    public override string Describe(Func<int, string> slotName) =>
        $"loop while {Operands(slotName)}, cond of {Cond?.KernelCount ?? 0} steps, body of {Body?.KernelCount ?? 0} steps" +
        PointerLoop.Describe(BodyLoop);

    public override Tensor[] Run(Tensor[] ins, Aval[] outAvals, Func<int, Array?>? into = null)
    {
        int nc = CondConsts, nb = BodyConsts, nCarry = ins.Length - nc - nb;
        var condArgs = new Tensor[nc + nCarry];
        var bodyArgs = new Tensor[nb + nCarry];
        for (int i = 0; i < nc; i++) condArgs[i] = ins[i];
        for (int i = 0; i < nb; i++) bodyArgs[i] = ins[nc + i];
        var carry = ins[(nc + nb)..];
        bool Proceed(Tensor[] current)
        {
            current.CopyTo(condArgs, nc);
            return Cond!.Execute(condArgs, null)[0].Buffer!.GetDouble(0) != 0;
        }
        if (BodyLoop is { } fast && PointerLoop.Enabled && !DebugNans.Enabled && !EagerProfiler.Enabled)
            return fast.RunWhile(ins[nc..(nc + nb)], carry, outAvals, Proceed);
        var arena = new LoopArena(Body!.SlotCount);
        for (int step = 0; ; step++)
        {
            if (!Proceed(carry)) return carry;
            carry.CopyTo(bodyArgs, nb);
            arena.Parity = step & 1;
            var r = Body.Execute(bodyArgs, arena);
            for (int c = 0; c < nCarry; c++) carry[c] = arena.Carry(r[c]);
        }
    }
}
