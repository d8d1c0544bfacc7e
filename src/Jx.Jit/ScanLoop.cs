namespace Jx;

/// <summary>A scan in a compiled program: the loop runs in the executor around the body's own compiled program (its
/// fused kernels and library calls), with no per-iteration dispatch through primitives. Row i of every xs is copied
/// straight out of its buffer (splat buffers, such as zero tangents, stay splats), every y is written straight into its
/// stacked result, and the body's kernel outputs live in a <see cref="LoopArena"/>: two sets of buffers used on
/// alternate iterations, so the carry produced by one iteration is read by the next while the iteration after that
/// overwrites the older set.</summary>
internal sealed class ScanStep(Eqn eqn, object[] inputs, int[] outSlots) : LoopStep(eqn, inputs, outSlots)
{
    public ClosedJaxpr BodyJaxpr { get; } = eqn.Params.Get<ClosedJaxpr>("jaxpr");
    public int NumConsts { get; } = eqn.Params.Int("num_consts");
    public int NumCarry { get; } = eqn.Params.Int("num_carry");
    public int Length { get; } = eqn.Params.Int("length");
    public bool Reverse { get; } = eqn.Params.Bool("reverse");
    /// <summary>The compiled body.</summary>
    public CpuExecutable? Body { get; private set; }

    public override void CompileBodies(Func<ClosedJaxpr, string, CpuExecutable> compile) => Body = compile(BodyJaxpr, "scan_body");

    public override string Describe(Func<int, string> slotName) =>
        $"loop scan length={Length}{(Reverse ? " reverse" : "")} {Operands(slotName)}, body of {Body?.KernelCount ?? 0} steps";

    /// <summary>The stacked ys are arrays the scan allocates and fills (row i written by iteration i).</summary>
    public override bool WritesFresh(int output) => output >= NumCarry;

    /// <summary>Rows of xs are copied out before the body reads them; consts and the initial carry may be passed
    /// through to the outputs.</summary>
    public override bool KeepsReference(int input) => input < NumConsts + NumCarry;

    public override Tensor[] Run(Tensor[] ins, Aval[] outAvals, Func<int, Array?>? into = null)
    {
        var body = Body!;
        int nC = NumConsts, nK = NumCarry, length = Length;
        var seqs = ins[(nC + nK)..];
        int nys = outAvals.Length - nK;
        var args = new Tensor[ins.Length];
        for (int i = 0; i < nC + nK; i++) args[i] = ins[i];
        var ys = new Array?[nys];
        var yRow = new int[nys];
        for (int k = 0; k < nys; k++) yRow[k] = outAvals[nK + k].Shape.Skip(1).Aggregate(1, (a, b) => a * b);
        var rowAvals = seqs.Select(s => new Aval(new Shape(s.Shape.Skip(1).ToArray()), s.DType, s.WeakType)).ToArray();
        var arena = new LoopArena(body.SlotCount);
        for (int step = 0; step < length; step++)
        {
            int i = Reverse ? length - 1 - step : step;
            arena.Parity = step & 1;
            // Rows live in the arena's buffers of this iteration's set, like the body's kernel outputs: a row that the
            // body passes through as the carry is copied out by Carry before the set is reused.
            for (int k = 0; k < seqs.Length; k++) args[nC + nK + k] = Row(seqs[k], i, rowAvals[k], arena, body.InputSlot(nC + nK + k));
            var r = body.Execute(args, arena);
            for (int c = 0; c < nK; c++)
                args[nC + c] = arena.Carry(r[c]);
            for (int k = 0; k < nys; k++)
            {
                var y = r[nK + k].Buffer!;
                ys[k] ??= into?.Invoke(nK + k) ?? KernelUtil.NewUninitialized(outAvals[nK + k].DType, length * yRow[k]);
                if (y.IsSplat) KernelUtil.FillRange(ys[k]!, (long)i * yRow[k], yRow[k], y);
                else Array.Copy(y.RawArray(), 0, ys[k]!, (long)i * yRow[k], yRow[k]);
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
