using System.Runtime.InteropServices;

namespace Jx;

/// <summary>A scan whose compiled body is only fused kernels and float products, run as a loop over raw pointers: every
/// array the loop touches is pinned once per run, and each iteration only rewrites the pointers its steps read before
/// calling the body's kernels and GEMMs directly. Row i of an xs is read in place in the stacked array (no copy), a y
/// that a kernel or product computes is written straight into row i of its stacked result, and the body's other
/// values live in two sets of buffers used on alternate iterations (the carry made by one iteration is read by the
/// next while the one after overwrites the older set). Per iteration nothing is allocated and nothing goes through
/// <see cref="Tensor"/>s: this is the executor's loop for a scan, built once per compiled body by
/// <see cref="TryBuild"/>; a body with anything else (a nested loop, another library call, a carry passed through
/// unchanged) runs on <see cref="ScanStep"/>'s general path. An unrolled body (u steps per iteration) reads u rows of
/// every xs and writes u rows of every y per iteration.</summary>
internal sealed unsafe class ScanPointerLoop
{
    /// <summary>Off only to compare against the general path (tests, benchmarks).</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Whether bodies built from now on update accumulator carries in place (off only to compare).</summary>
    internal static bool AccumulateInPlace { get; set; } = true;

    /// <summary>Carries updated in place by a product (<see cref="FoldAccumulators"/>).</summary>
    public int InPlaceAccumulators => _accumulators.Length;

    private enum Source : byte { None, Const, Carry, Row, Produced, DirectY, Literal, Accumulator }

    private readonly int _nC, _nK, _nX, _nY, _u;
    private readonly Aval[] _avals;          // per pointer index: slots first, then literals
    private readonly Source[] _source;       // per pointer index
    private readonly int[] _index;           // per pointer index: input index (const, carry, xs), ys index (DirectY)
    private readonly int[] _rowOffset;       // per pointer index: for rows and DirectY, the step within an unrolled block
    private readonly Tensor[] _literals;     // pointer index SlotCount + i
    private readonly int _slots;
    private readonly int[] _produced;        // slots written by a step (not DirectY)
    private readonly int[] _rowSlots, _directSlots, _carrySlots, _accumulators;
    private readonly int[] _carryOut;        // per carry: pointer index of its new value
    private readonly (int Y, int Offset, int From)[] _copiedYs; // ys not written in place: copied from this pointer index after each iteration
    private readonly Op[] _ops;

    private abstract record Op;
    private sealed record KernelOp(Kernel Kernel, Action<nint[], long, long> Run, int[] Slots, long Total, bool Parallel) : Op;
    /// <summary>A product; with <paramref name="Accumulate"/> it adds into C (an accumulator carry) instead.</summary>
    private sealed record GemmOp(GemmCall Call, int A, int B, int C, bool Accumulate = false) : Op;

    private ScanPointerLoop(int nC, int nK, int nX, int nY, int u, Aval[] avals, Source[] source, int[] index, int[] rowOffset,
        Tensor[] literals, int slots, int[] carryOut, (int, int, int)[] copiedYs, Op[] ops)
    {
        (_nC, _nK, _nX, _nY, _u, _avals, _source, _index, _literals, _slots) = (nC, nK, nX, nY, u, avals, source, index, literals, slots);
        _rowOffset = rowOffset;
        _carryOut = carryOut;
        _copiedYs = copiedYs;
        _ops = ops;
        int[] Where(Source s) => Enumerable.Range(0, slots).Where(i => source[i] == s).ToArray();
        _produced = Where(Source.Produced);
        _rowSlots = Where(Source.Row);
        _directSlots = Where(Source.DirectY);
        _carrySlots = Where(Source.Carry);
        _accumulators = Where(Source.Accumulator);
    }

    /// <summary>The pointer loop for a scan body with <paramref name="nC"/> consts, <paramref name="nK"/> carries and
    /// <paramref name="nX"/> xs, running <paramref name="u"/> steps per iteration (the body then takes u rows of every xs
    /// and returns u rows of every y, step-major), or null when the body has a step it cannot run (see the class
    /// summary).</summary>
    public static ScanPointerLoop? TryBuild(CpuExecutable body, int nC, int nK, int nX, int u = 1)
    {
        var plan = body.Plan;
        int slots = plan.SlotAvals.Length;
        var avals = new List<Aval>(plan.SlotAvals);
        var source = new List<Source>(Enumerable.Repeat(Source.None, slots));
        var index = new List<int>(Enumerable.Repeat(-1, slots));
        var rowOffset = new List<int>(Enumerable.Repeat(0, slots));
        var literals = new List<Tensor>();
        int Literal(Tensor t)
        {
            literals.Add(t);
            avals.Add(t.Aval);
            source.Add(Source.Literal);
            index.Add(literals.Count - 1);
            rowOffset.Add(0);
            return avals.Count - 1;
        }
        if (plan.InputSlots.Length != nC + nK + u * nX) return null;
        for (int i = 0; i < plan.InputSlots.Length; i++)
        {
            int s = plan.InputSlots[i];
            if (source[s] != Source.None) return null;
            source[s] = i < nC ? Source.Const : i < nC + nK ? Source.Carry : Source.Row;
            index[s] = i < nC ? i : i < nC + nK ? i - nC : (i - nC - nK) % nX;
            if (i >= nC + nK) rowOffset[s] = (i - nC - nK) / nX;
        }
        foreach (var (slot, value) in plan.ConstSlots)
        {
            source[slot] = Source.Literal;
            literals.Add(value);
            index[slot] = literals.Count - 1;
        }

        var ops = new List<Op>();
        foreach (var step in plan.Steps)
        {
            switch (step)
            {
                case KernelStep k when k.Compiled is { } run && k.Total > 0 && k.Work > 0:
                    foreach (var (_, slot) in k.Kernel.Outputs) source[slot] = Source.Produced;
                    ops.Add(new KernelOp(k.Kernel, run, k.InputSlots, k.Total, k.Work >= CpuExecutable.ParallelWork && k.Total >= 2));
                    break;
                case LibraryStep l when l.Eqn.Primitive == Linalg.DotGeneral && l.OutSlots.Length == 1:
                {
                    var avalOf = l.Inputs.Select(i => i is int s ? plan.SlotAvals[s] : ((Tensor)i).Aval).ToArray();
                    if (Linalg.PlanGemm(l.Eqn.Params, avalOf[0], avalOf[1], l.OutAvals[0]) is not { } call) return null;
                    int Operand(object o) => o is int s ? s : Literal((Tensor)o);
                    source[l.OutSlots[0]] = Source.Produced;
                    ops.Add(new GemmOp(call, Operand(l.Inputs[0]), Operand(l.Inputs[1]), l.OutSlots[0]));
                    break;
                }
                default:
                    return null;
            }
        }

        if ((plan.Outputs.Length - nK) % u != 0) return null;
        int nY = (plan.Outputs.Length - nK) / u;
        int Pointer(object output) => output is int s ? s : Literal((Tensor)output);
        var carryOut = new int[nK];
        for (int c = 0; c < nK; c++)
        {
            carryOut[c] = Pointer(plan.Outputs[c]);
            // A carry passed through from an older iteration would sit in the set the next iteration overwrites.
            if (source[carryOut[c]] == Source.Carry) return null;
        }
        if (AccumulateInPlace) FoldAccumulators(plan, ops, source, index, carryOut);
        var copied = new List<(int, int, int)>();
        for (int o = 0; o < u * nY; o++)
        {
            int p = Pointer(plan.Outputs[nK + o]), y = o % nY, j = o / nY;
            if (source[p] == Source.Produced) { source[p] = Source.DirectY; index[p] = y; rowOffset[p] = j; }
            else copied.Add((y, j, p));
        }
        if (!AllSlotsFilled(ops, source)) return null;
        return new ScanPointerLoop(nC, nK, nX, nY, u, avals.ToArray(), source.ToArray(), index.ToArray(), rowOffset.ToArray(),
            literals.ToArray(), slots, carryOut, copied.ToArray(), ops.ToArray());
    }

    /// <summary>A carry that only accumulates products, <c>c' = c + A·B</c> (a weight gradient summed over a backward
    /// loop), is updated in place: the product adds into one buffer that holds the carry in every iteration (BLAS's
    /// β = 1), and the add kernel goes. It applies when the add reads both values whole (same shape and dtype), and
    /// nothing else reads the old carry, the product or the new carry (other than as the carry).</summary>
    private static void FoldAccumulators(Plan plan, List<Op> ops, List<Source> source, List<int> index, int[] carryOut)
    {
        var reads = new Dictionary<int, int>();
        void Read(int s) => reads[s] = reads.GetValueOrDefault(s) + 1;
        foreach (var op in ops)
        {
            if (op is KernelOp k) foreach (var v in k.Kernel.Inputs()) Read(v.Slot);
            else if (op is GemmOp g) { Read(g.A); Read(g.B); }
        }
        foreach (var o in plan.Outputs) if (o is int s) Read(s);
        for (int i = 0; i < ops.Count; i++)
        {
            if (ops[i] is not KernelOp { Kernel: { Reduction: null, Outputs: [var (value, slot)] } kernel } ||
                value is not OpExpr { Op: "add", Args: [InputExpr x, InputExpr y] } ||
                value.DType is not (DType.Float32 or DType.Float64) || x.DType != value.DType || y.DType != value.DType ||
                !IsWhole(x.View, kernel.LoopShape) || !IsWhole(y.View, kernel.LoopShape))
                continue;
            int ci = Array.IndexOf(carryOut, slot);
            if (ci < 0 || Array.LastIndexOf(carryOut, slot) != ci || reads.GetValueOrDefault(slot) != 1) continue; // read only as the carry
            int c = source[x.View.Slot] == Source.Carry ? x.View.Slot : y.View.Slot, p = c == x.View.Slot ? y.View.Slot : x.View.Slot;
            if (source[c] != Source.Carry || index[c] != ci || reads.GetValueOrDefault(c) != 1 || reads.GetValueOrDefault(p) != 1) continue;
            int gi = ops.FindIndex(op => op is GemmOp g && g.C == p && !g.Accumulate);
            if (gi < 0 || gi > i || plan.SlotAvals[p].Size != plan.SlotAvals[slot].Size) continue;
            ops[gi] = ((GemmOp)ops[gi]) with { C = slot, Accumulate = true };
            ops.RemoveAt(i--);
            source[slot] = Source.Accumulator;
            index[slot] = ci;
            source[p] = Source.None; // no longer written or read
        }
    }

    /// <summary>Whether a kernel's read is its operand's whole buffer in order (offset 0, row-major strides).</summary>
    private static bool IsWhole(View v, int[] loopShape)
    {
        if (v.Offset != 0 || v.Strides.Length != loopShape.Length) return false;
        long stride = 1;
        for (int d = loopShape.Length - 1; d >= 0; d--)
        {
            if (loopShape[d] != 1 && v.Strides[d] != stride) return false;
            stride *= loopShape[d];
        }
        return true;
    }

    /// <summary>Whether every slot a step reads or writes is filled by an input, a constant or a step.</summary>
    private static bool AllSlotsFilled(List<Op> ops, List<Source> source) => ops.All(op => op switch
    {
        KernelOp k => k.Slots.All(s => source[s] != Source.None),
        GemmOp g => source[g.A] != Source.None && source[g.B] != Source.None && source[g.C] != Source.None,
        _ => false,
    });

    /// <summary>Runs steps <paramref name="from"/> … <paramref name="to"/> − 1 of a scan of <paramref name="length"/>
    /// steps (in blocks of the body's unroll, which must divide the range), starting from <paramref name="carryIn"/> and
    /// writing row i of every y into <paramref name="ys"/> (the scan's outputs have <paramref name="outAvals"/>: the
    /// carries, then the stacked ys); returns the carries after the last step.</summary>
    public Tensor[] Run(Tensor[] consts, Tensor[] carryIn, Tensor[] xs, Array[] ys, Aval[] outAvals, int length, bool reverse, int from, int to)
    {
        int n = _avals.Length;
        var ptr = new nint[n];
        var handles = new List<GCHandle>(n + 8);
        nint Pin(Array a)
        {
            var h = GCHandle.Alloc(a, GCHandleType.Pinned);
            handles.Add(h);
            return h.AddrOfPinnedObject();
        }
        var rowBase = new nint[n];
        var rowBytes = new nint[n];
        var yBase = new nint[_nY];
        var yBytes = new nint[_nY];
        var sets = new Array?[2][];
        var setPtr = new nint[2][];
        var carry = new nint[_nK];
        var accumulated = new Array?[n];
        try
        {
            for (int p = 0; p < n; p++)
            {
                switch (_source[p])
                {
                    case Source.Const: ptr[p] = Pin(consts[_index[p]].Buffer!.RawArray()); break;
                    case Source.Literal: ptr[p] = Pin(_literals[_index[p]].Buffer!.RawArray()); break;
                    case Source.Row:
                    {
                        var b = xs[_index[p]].Buffer!;
                        int size = _avals[p].Size;
                        // A splat xs (a zero tangent) has no array: its one row is materialized and read at every step.
                        rowBase[p] = Pin(b.IsSplat ? KernelUtil.SplatRow(b, size).RawArray() : b.RawArray());
                        rowBytes[p] = b.IsSplat ? 0 : (nint)size * _avals[p].DType.ItemSize();
                        break;
                    }
                    case Source.Accumulator:
                    {
                        var init = carryIn[_index[p]].Buffer!.RawArray();
                        accumulated[p] = KernelUtil.NewUninitialized(_avals[p].DType, _avals[p].Size);
                        Array.Copy(init, accumulated[p]!, _avals[p].Size);
                        ptr[p] = Pin(accumulated[p]!);
                        break;
                    }
                }
            }
            for (int c = 0; c < _nK; c++) carry[c] = Pin(carryIn[c].Buffer!.RawArray());
            for (int y = 0; y < _nY; y++)
            {
                yBase[y] = Pin(ys[y]);
                yBytes[y] = (nint)(outAvals[_nK + y].Size / Math.Max(1, length)) * outAvals[_nK + y].DType.ItemSize();
            }
            for (int set = 0; set < 2; set++)
            {
                sets[set] = new Array?[n];
                setPtr[set] = new nint[n];
                foreach (var s in _produced)
                {
                    sets[set][s] = KernelUtil.NewUninitialized(_avals[s].DType, _avals[s].Size);
                    setPtr[set][s] = Pin(sets[set][s]!);
                }
            }
            var args = _ops.Select(o => o is KernelOp k ? new nint[k.Slots.Length] : null).ToArray();
            int Row(int step) => reverse ? length - 1 - step : step;

            int iteration = 0;
            for (int step = from; step < to; step += _u, iteration++)
            {
                var current = setPtr[iteration & 1];
                foreach (var s in _produced) ptr[s] = current[s];
                foreach (var s in _rowSlots) ptr[s] = rowBase[s] + Row(step + _rowOffset[s]) * rowBytes[s];
                foreach (var s in _directSlots) ptr[s] = yBase[_index[s]] + Row(step + _rowOffset[s]) * yBytes[_index[s]];
                foreach (var s in _carrySlots) ptr[s] = carry[_index[s]];
                for (int o = 0; o < _ops.Length; o++)
                {
                    switch (_ops[o])
                    {
                        case KernelOp k:
                        {
                            var a = args[o]!;
                            for (int j = 0; j < a.Length; j++) a[j] = ptr[k.Slots[j]];
                            if (k.Parallel && Environment.ProcessorCount > 1) CpuExecutable.RunInParallel(k.Run, a, k.Total, Environment.ProcessorCount);
                            else k.Run(a, 0, k.Total);
                            break;
                        }
                        case GemmOp g:
                            g.Call.Run(ptr[g.A], ptr[g.B], ptr[g.C], g.Accumulate);
                            break;
                    }
                }
                foreach (var (y, offset, src) in _copiedYs)
                    System.Buffer.MemoryCopy((void*)ptr[src], (void*)(yBase[y] + Row(step + offset) * yBytes[y]), yBytes[y], yBytes[y]);
                for (int c = 0; c < _nK; c++) carry[c] = ptr[_carryOut[c]];
            }

            var outs = new Tensor[_nK];
            var last = sets[(iteration - 1) & 1];
            for (int c = 0; c < _nK; c++)
            {
                int p = _carryOut[c];
                var a = outAvals[c];
                // A value of the last iteration's set or an accumulator is this run's own array; anything else (a row of
                // an xs or of a y, a constant) is copied out.
                if (iteration > 0 && (_source[p] == Source.Produced ? last[p] : _source[p] == Source.Accumulator ? accumulated[p] : null) is { } own)
                {
                    outs[c] = KernelUtil.Wrap(own, a);
                    continue;
                }
                if (iteration == 0) { outs[c] = carryIn[c]; continue; }
                var dst = KernelUtil.NewUninitialized(a.DType, a.Size);
                long bytes = (long)a.Size * a.DType.ItemSize();
                fixed (byte* d = &MemoryMarshal.GetArrayDataReference(dst))
                    System.Buffer.MemoryCopy((void*)carry[c], d, bytes, bytes);
                outs[c] = KernelUtil.Wrap(dst, a);
            }
            return outs;
        }
        finally
        {
            foreach (var h in handles) h.Free();
        }
    }
}
