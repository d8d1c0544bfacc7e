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
/// unchanged) runs on <see cref="ScanStep"/>'s general path.</summary>
internal sealed unsafe class ScanPointerLoop
{
    /// <summary>Off only to compare against the general path (tests, benchmarks).</summary>
    internal static bool Enabled { get; set; } = true;

    private enum Source : byte { None, Const, Carry, Row, Produced, DirectY, Literal }

    private readonly int _nC, _nK, _nX, _nY;
    private readonly Aval[] _avals;          // per pointer index: slots first, then literals
    private readonly Source[] _source;       // per pointer index
    private readonly int[] _index;           // per pointer index: input index (const, carry, xs), ys index (DirectY)
    private readonly Tensor[] _literals;     // pointer index SlotCount + i
    private readonly int _slots;
    private readonly int[] _produced;        // slots written by a step (not DirectY)
    private readonly int[] _rowSlots, _directSlots, _carrySlots;
    private readonly int[] _carryOut;        // per carry: pointer index of its new value
    private readonly (int Y, int From)[] _copiedYs; // ys not written in place: copied from this pointer index after each iteration
    private readonly Op[] _ops;

    private abstract record Op;
    private sealed record KernelOp(Action<nint[], long, long> Run, int[] Slots, long Total, bool Parallel) : Op;
    private sealed record GemmOp(GemmCall Call, int A, int B, int C) : Op;

    private ScanPointerLoop(int nC, int nK, int nX, int nY, Aval[] avals, Source[] source, int[] index, Tensor[] literals, int slots,
        int[] carryOut, (int, int)[] copiedYs, Op[] ops)
    {
        (_nC, _nK, _nX, _nY, _avals, _source, _index, _literals, _slots) = (nC, nK, nX, nY, avals, source, index, literals, slots);
        _carryOut = carryOut;
        _copiedYs = copiedYs;
        _ops = ops;
        int[] Where(Source s) => Enumerable.Range(0, slots).Where(i => source[i] == s).ToArray();
        _produced = Where(Source.Produced);
        _rowSlots = Where(Source.Row);
        _directSlots = Where(Source.DirectY);
        _carrySlots = Where(Source.Carry);
    }

    /// <summary>The pointer loop for a scan body with <paramref name="nC"/> consts, <paramref name="nK"/> carries and
    /// <paramref name="nX"/> xs, or null when the body has a step it cannot run (see the class summary).</summary>
    public static ScanPointerLoop? TryBuild(CpuExecutable body, int nC, int nK, int nX)
    {
        var plan = body.Plan;
        int slots = plan.SlotAvals.Length;
        var avals = new List<Aval>(plan.SlotAvals);
        var source = new List<Source>(Enumerable.Repeat(Source.None, slots));
        var index = new List<int>(Enumerable.Repeat(-1, slots));
        var literals = new List<Tensor>();
        int Literal(Tensor t)
        {
            literals.Add(t);
            avals.Add(t.Aval);
            source.Add(Source.Literal);
            index.Add(literals.Count - 1);
            return avals.Count - 1;
        }
        if (plan.InputSlots.Length != nC + nK + nX) return null;
        for (int i = 0; i < plan.InputSlots.Length; i++)
        {
            int s = plan.InputSlots[i];
            if (source[s] != Source.None) return null;
            source[s] = i < nC ? Source.Const : i < nC + nK ? Source.Carry : Source.Row;
            index[s] = i < nC ? i : i < nC + nK ? i - nC : i - nC - nK;
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
                    ops.Add(new KernelOp(run, k.InputSlots, k.Total, k.Work >= CpuExecutable.ParallelWork && k.Total >= 2));
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

        int nY = plan.Outputs.Length - nK;
        int Pointer(object output) => output is int s ? s : Literal((Tensor)output);
        var carryOut = new int[nK];
        for (int c = 0; c < nK; c++)
        {
            carryOut[c] = Pointer(plan.Outputs[c]);
            // A carry passed through from an older iteration would sit in the set the next iteration overwrites.
            if (source[carryOut[c]] == Source.Carry) return null;
        }
        var copied = new List<(int, int)>();
        for (int y = 0; y < nY; y++)
        {
            int p = Pointer(plan.Outputs[nK + y]);
            if (source[p] == Source.Produced) { source[p] = Source.DirectY; index[p] = y; }
            else copied.Add((y, p));
        }
        if (source.Take(slots).Any(s => s == Source.None) && !AllUnusedAreUnread(plan, source)) return null;
        return new ScanPointerLoop(nC, nK, nX, nY, avals.ToArray(), source.ToArray(), index.ToArray(), literals.ToArray(), slots,
            carryOut, copied.ToArray(), ops.ToArray());
    }

    /// <summary>Slots no input, constant or step fills must not be read by any step.</summary>
    private static bool AllUnusedAreUnread(Plan plan, List<Source> source)
    {
        foreach (var step in plan.Steps)
        {
            var reads = step switch
            {
                KernelStep k => k.InputSlots,
                LibraryStep l => l.Inputs.OfType<int>().ToArray(),
                _ => [],
            };
            foreach (var s in reads) if (source[s] == Source.None) return false;
        }
        return true;
    }

    /// <summary>Runs the scan: <paramref name="ins"/> are its consts, initial carries and stacked xs; returns the final
    /// carries and the stacked ys (written into arrays from <paramref name="into"/> where it gives one).</summary>
    public Tensor[] Run(Tensor[] ins, Aval[] outAvals, Func<int, Array?>? into, int length, bool reverse)
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
        var ys = new Array[_nY];
        var yBase = new nint[_nY];
        var yBytes = new nint[_nY];
        var sets = new Array?[2][];
        var setPtr = new nint[2][];
        var carry = new nint[_nK];
        try
        {
            for (int p = 0; p < n; p++)
            {
                switch (_source[p])
                {
                    case Source.Const: ptr[p] = Pin(ins[_index[p]].Buffer!.RawArray()); break;
                    case Source.Literal: ptr[p] = Pin(_literals[_index[p]].Buffer!.RawArray()); break;
                    case Source.Row:
                    {
                        var b = ins[_nC + _nK + _index[p]].Buffer!;
                        int size = _avals[p].Size;
                        // A splat xs (a zero tangent) has no array: its one row is materialized and read at every step.
                        rowBase[p] = Pin(b.IsSplat ? KernelUtil.SplatRow(b, size).RawArray() : b.RawArray());
                        rowBytes[p] = b.IsSplat ? 0 : (nint)size * _avals[p].DType.ItemSize();
                        break;
                    }
                }
            }
            for (int c = 0; c < _nK; c++) carry[c] = Pin(ins[_nC + c].Buffer!.RawArray());
            for (int y = 0; y < _nY; y++)
            {
                var a = outAvals[_nK + y];
                int row = a.Size / Math.Max(1, length);
                ys[y] = into?.Invoke(_nK + y) ?? KernelUtil.NewUninitialized(a.DType, a.Size);
                yBase[y] = Pin(ys[y]);
                yBytes[y] = (nint)row * a.DType.ItemSize();
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

            for (int step = 0; step < length; step++)
            {
                int i = reverse ? length - 1 - step : step;
                var current = setPtr[step & 1];
                foreach (var s in _produced) ptr[s] = current[s];
                foreach (var s in _rowSlots) ptr[s] = rowBase[s] + i * rowBytes[s];
                foreach (var s in _directSlots) ptr[s] = yBase[_index[s]] + i * yBytes[_index[s]];
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
                            g.Call.Run(ptr[g.A], ptr[g.B], ptr[g.C]);
                            break;
                    }
                }
                foreach (var (y, from) in _copiedYs)
                    System.Buffer.MemoryCopy((void*)ptr[from], (void*)(yBase[y] + i * yBytes[y]), yBytes[y], yBytes[y]);
                for (int c = 0; c < _nK; c++) carry[c] = ptr[_carryOut[c]];
            }

            var outs = new Tensor[outAvals.Length];
            var last = sets[(length - 1) & 1];
            for (int c = 0; c < _nK; c++)
            {
                int p = _carryOut[c];
                var a = outAvals[c];
                // A value of the last iteration's set is this run's own array; anything else (a row of an xs or of a y,
                // a constant) is copied out.
                if (_source[p] == Source.Produced && last[p] is { } own) { outs[c] = KernelUtil.Wrap(own, a); continue; }
                var dst = KernelUtil.NewUninitialized(a.DType, a.Size);
                long bytes = (long)a.Size * a.DType.ItemSize();
                fixed (byte* d = &MemoryMarshal.GetArrayDataReference(dst))
                    System.Buffer.MemoryCopy((void*)carry[c], d, bytes, bytes);
                outs[c] = KernelUtil.Wrap(dst, a);
            }
            for (int y = 0; y < _nY; y++) outs[_nK + y] = KernelUtil.Wrap(ys[y], outAvals[_nK + y]);
            return outs;
        }
        finally
        {
            foreach (var h in handles) h.Free();
        }
    }
}
