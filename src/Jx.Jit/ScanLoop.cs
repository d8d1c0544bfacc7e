namespace Jx;

/// <summary>A scan in a compiled program: the loop runs in the executor around the body's own compiled program (its
/// fused kernels and library calls), with no per-iteration dispatch through primitives. A body of fused kernels and
/// float products runs over raw pointers (<see cref="PointerLoop"/>: rows of xs read in place, ys written into their
/// rows). Any other body takes the general path: row i of every xs is copied out of its buffer into a buffer of the
/// loop's <see cref="LoopArena"/> (splat buffers, such as zero tangents, stay splats), every y is copied into its
/// stacked result (a reused buffer of the enclosing program when it plans one), and the body's kernel outputs live in
/// the arena too: two sets of buffers used on alternate iterations, so the carry produced by one iteration is read by
/// the next while the iteration after that overwrites the older set. With unroll u, blocks of u steps run the body
/// repeated u times as one program.</summary>
internal sealed class ScanStep(Eqn eqn, object[] inputs, int[] outSlots) : LoopStep(eqn, inputs, outSlots)
{
    public ClosedJaxpr BodyJaxpr { get; } = eqn.Params.Get<ClosedJaxpr>("jaxpr");
    public int NumConsts { get; } = eqn.Params.Int("num_consts");
    public int NumCarry { get; } = eqn.Params.Int("num_carry");
    public int Length { get; } = eqn.Params.Int("length");
    public bool Reverse { get; } = eqn.Params.Bool("reverse");
    /// <summary>Steps per compiled iteration (the scan's unroll, at most its length).</summary>
    public int Unroll { get; } = Math.Max(1, Math.Min(eqn.Params.Has("unroll") ? eqn.Params.Int("unroll") : 1, eqn.Params.Int("length")));
    /// <summary>The compiled body.</summary>
    public CpuExecutable? Body { get; private set; }
    /// <summary>With <see cref="Unroll"/> u above 1: the body repeated u times as one program (consts, carry, u rows of
    /// every xs → carry, u rows of every y), so that one compiled iteration runs u steps and fuses across them. The
    /// steps left over (length mod u) run the plain body.</summary>
    public CpuExecutable? Unrolled { get; private set; }

    public override void CompileBodies(Func<ClosedJaxpr, string, CpuExecutable> compile)
    {
        if (Unroll > 1) Unrolled = compile(Repeat(BodyJaxpr, Unroll), $"scan_body_x{Unroll}");
        // The plain body runs only the steps left over by the unrolled blocks (all of them without unroll).
        if (Unrolled is null || Length % Unroll != 0) Body = compile(BodyJaxpr, "scan_body");
        int nX = BodyJaxpr.Jaxpr.InVars.Count - NumConsts - NumCarry;
        var plain = Body is null ? null : PointerLoop.TryBuild(Body, NumConsts, NumCarry, nX);
        var unrolled = Unrolled is null ? null : PointerLoop.TryBuild(Unrolled, NumConsts, NumCarry, nX, Unroll);
        // Both loops a scan runs (the unrolled blocks and the steps left over) must run over pointers, or neither does.
        if ((Body is null || plain is not null) && (Unrolled is null || unrolled is not null)) (PointerLoop, UnrolledPointerLoop) = (plain, unrolled);
    }

    /// <summary>The loops over raw pointers for bodies of kernels and products (for the plain body, and for the unrolled
    /// body when there is one; null when a body has other steps); the general path below runs otherwise, and when
    /// debugging hooks (NaN checks, the eager profiler) are on.</summary>
    public PointerLoop? PointerLoop { get; private set; }
    public PointerLoop? UnrolledPointerLoop { get; private set; }

    /// <summary>The pointer loop that runs most of the steps (the unrolled one when there is one).</summary>
    private PointerLoop? AnyPointerLoop => UnrolledPointerLoop ?? PointerLoop;

    /// <summary>The scan on the pointer loops: the unrolled blocks, then the steps left over.</summary>
    private Tensor[] RunOnPointers(Tensor[] ins, Aval[] outAvals, Func<int, Array?>? into)
    {
        int nC = NumConsts, nK = NumCarry, length = Length;
        var consts = ins[..nC];
        var carry = ins[nC..(nC + nK)];
        var xs = ins[(nC + nK)..];
        var ys = new Array[outAvals.Length - nK];
        for (int k = 0; k < ys.Length; k++)
            ys[k] = into?.Invoke(nK + k) ?? KernelUtil.NewUninitialized(outAvals[nK + k].DType, outAvals[nK + k].Size);
        int blocked = UnrolledPointerLoop is null ? 0 : length / Unroll * Unroll;
        if (blocked > 0) carry = UnrolledPointerLoop!.Run(consts, carry, xs, ys, outAvals, length, Reverse, 0, blocked);
        if (blocked < length) carry = PointerLoop!.Run(consts, carry, xs, ys, outAvals, length, Reverse, blocked, length);
        var outs = new Tensor[outAvals.Length];
        carry.CopyTo(outs, 0);
        for (int k = 0; k < ys.Length; k++) outs[nK + k] = KernelUtil.Wrap(ys[k], outAvals[nK + k]);
        return outs;
    }

    /// <summary>The body applied <paramref name="u"/> times in a row, traced into one jaxpr.</summary>
    private ClosedJaxpr Repeat(ClosedJaxpr body, int u)
    {
        int nC = NumConsts, nK = NumCarry;
        var inVars = body.Jaxpr.InVars;
        int nX = inVars.Count - nC - nK;
        var avals = inVars.Take(nC + nK).Select(v => v.Aval)
            .Concat(Enumerable.Range(0, u).SelectMany(_ => inVars.Skip(nC + nK).Select(v => v.Aval))).ToArray();
        return StagingTrace.TraceToJaxpr(flat =>
        {
            var consts = flat[..nC];
            var carry = flat[nC..(nC + nK)];
            var ys = new List<Tensor>();
            for (int j = 0; j < u; j++)
            {
                var r = body.Call([.. consts, .. carry, .. flat[(nC + nK + j * nX)..(nC + nK + (j + 1) * nX)]]);
                carry = r[..nK];
                ys.AddRange(r[nK..]);
            }
            return [.. carry, .. ys];
        }, avals, "scan_body_unrolled");
    }

    public override string Describe(Func<int, string> slotName) =>
        $"loop scan length={Length}{(Reverse ? " reverse" : "")} {Operands(slotName)}" +
        (Body is null ? "" : $", body of {Body.KernelCount} steps") + PointerLoop.Describe(AnyPointerLoop) +
        (Unrolled is null ? "" : $", unrolled ×{Unroll} (a body of {Unrolled.KernelCount} steps per {Unroll} iterations)");

    /// <summary>The stacked ys are arrays the scan allocates and fills (row i written by iteration i).</summary>
    public override bool WritesFresh(int output) => output >= NumCarry;

    /// <summary>Only consts and the initial carry may be passed through to the outputs: a row of an xs that becomes a
    /// carry or a y is copied (the general path copies every row before the body reads it; the pointer loop reads rows
    /// in place and copies one only when it escapes).</summary>
    public override bool KeepsReference(int input) => input < NumConsts + NumCarry;

    public override Tensor[] Run(Tensor[] ins, Aval[] outAvals, Func<int, Array?>? into = null)
    {
        int nC = NumConsts, nK = NumCarry, length = Length;
        if (AnyPointerLoop is not null && PointerLoop.Enabled && length > 0 && !DebugNans.Enabled && !EagerProfiler.Enabled)
            return RunOnPointers(ins, outAvals, into);
        var seqs = ins[(nC + nK)..];
        int nX = seqs.Length, nys = outAvals.Length - nK;
        var args = new Tensor[ins.Length];
        for (int i = 0; i < nC + nK; i++) args[i] = ins[i];
        var ys = new Array?[nys];
        var yRow = new int[nys];
        for (int k = 0; k < nys; k++) yRow[k] = outAvals[nK + k].Shape.Skip(1).Aggregate(1, (a, b) => a * b);
        var rowAvals = seqs.Select(s => new Aval(new Shape(s.Shape.Skip(1).ToArray()), s.DType, s.WeakType)).ToArray();
        int Index(int step) => Reverse ? length - 1 - step : step;
        void WriteY(int k, int i, Tensor value)
        {
            var y = value.Buffer!;
            ys[k] ??= into?.Invoke(nK + k) ?? KernelUtil.NewUninitialized(outAvals[nK + k].DType, length * yRow[k]);
            if (y.IsSplat) KernelUtil.FillRange(ys[k]!, (long)i * yRow[k], yRow[k], y);
            else Array.Copy(y.RawArray(), 0, ys[k]!, (long)i * yRow[k], yRow[k]);
        }

        // Rows live in the arena's buffers of the iteration's set, like the body's kernel outputs: a row that the body
        // passes through as the carry is copied out by Carry before the set is reused. The unrolled body has an arena of
        // its own; a carry left in it when the plain body takes over is never overwritten (the plain body writes only
        // into its own arena).
        int step = 0;
        if (Unrolled is { } unrolled)
        {
            int u = Unroll;
            var arenaU = new LoopArena(unrolled.SlotCount);
            var argsU = new Tensor[nC + nK + u * nX];
            for (int i = 0; i < nC; i++) argsU[i] = ins[i];
            for (int block = 0; step + u <= length; block++, step += u)
            {
                arenaU.Parity = block & 1;
                for (int c = 0; c < nK; c++) argsU[nC + c] = args[nC + c];
                for (int j = 0; j < u; j++)
                    for (int k = 0; k < nX; k++)
                    {
                        int a = nC + nK + j * nX + k;
                        argsU[a] = Row(seqs[k], Index(step + j), rowAvals[k], arenaU, unrolled.InputSlot(a));
                    }
                var r = unrolled.Execute(argsU, arenaU);
                for (int c = 0; c < nK; c++) args[nC + c] = arenaU.Carry(r[c]);
                for (int j = 0; j < u; j++)
                    for (int k = 0; k < nys; k++) WriteY(k, Index(step + j), r[nK + j * nys + k]);
            }
        }
        if (step < length)
        {
            var body = Body!;
            var arena = new LoopArena(body.SlotCount);
            for (; step < length; step++)
            {
                int i = Index(step);
                arena.Parity = step & 1;
                for (int k = 0; k < nX; k++) args[nC + nK + k] = Row(seqs[k], i, rowAvals[k], arena, body.InputSlot(nC + nK + k));
                var r = body.Execute(args, arena);
                for (int c = 0; c < nK; c++) args[nC + c] = arena.Carry(r[c]);
                for (int k = 0; k < nys; k++) WriteY(k, i, r[nK + k]);
            }
        }
        var outs = new Tensor[outAvals.Length];
        for (int c = 0; c < nK; c++) outs[c] = args[nC + c];
        for (int k = 0; k < nys; k++)
        {
            var a = outAvals[nK + k];
            outs[nK + k] = length == 0 ? Np.Zeros(a.Shape, a.DType) : KernelUtil.Wrap(ys[k]!, a);
        }
        return outs;
    }

    private static Tensor Row(Tensor x, int i, Aval row, LoopArena arena, int slot)
    {
        var b = x.Buffer!;
        int n = row.Size;
        if (b.IsSplat) return new Tensor(KernelUtil.SplatRow(b, n), row);
        var dst = arena.Get(slot, row);
        Array.Copy(b.RawArray(), (long)i * n, dst, 0, n);
        return new Tensor(new Buffer(dst, b.DType, b.Device), row);
    }

}
