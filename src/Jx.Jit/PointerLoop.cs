using System.Runtime.InteropServices;

namespace Jx;

/// <summary>A loop whose compiled body is only fused kernels and float products (a scan's or a while loop's), run over
/// raw pointers: every array the loop touches is pinned once per run, and each iteration only rewrites the pointers its
/// steps read before calling the body's kernels and GEMMs directly. Row i of an xs is read in place in the stacked
/// array (no copy), a y that a kernel or product computes is written straight into row i of its stacked result, a
/// carry that only accumulates a product is updated in place (<see cref="FoldAccumulators"/>), and the body's other
/// values live in two sets of buffers used on alternate iterations (the carry made by one iteration is read by the
/// next while the one after overwrites the older set). A scan's iterations allocate nothing and create no
/// <see cref="Tensor"/>s (a while loop's condition, a compiled program of its own, gets tensors over the carries). It is
/// built once per compiled body by <see cref="TryBuild"/>; a body with anything else (a nested loop, another library
/// call, a carry that takes another carry's value) runs on the loop step's general path. An unrolled scan body (u steps
/// per iteration) reads u rows of every xs and writes u rows of every y per iteration.</summary>
internal sealed unsafe class PointerLoop
{
    /// <summary>Off only to compare against the general path (tests, benchmarks).</summary>
    internal static bool Enabled { get; set; } = true;

    /// <summary>Whether bodies built from now on update accumulator carries in place (off only to compare).</summary>
    internal static bool AccumulateInPlace { get; set; } = true;

    /// <summary>Whether runs started from now on do small float32 products on <see cref="SmallGemm"/> and prefetch the
    /// next step's rows (off only to compare against BLAS).</summary>
    internal static bool SmallKernel { get; set; } = Environment.GetEnvironmentVariable("JX_LOOP_SMALL_GEMM") != "0";

    /// <summary>Carries updated in place by a product (<see cref="FoldAccumulators"/>).</summary>
    public int InPlaceAccumulators => _accumulators.Length;

    /// <summary>What a loop step's description says about its pointer loop: nothing without one, else " (pointer loop)"
    /// with the number of accumulators updated in place and of products run on <see cref="SmallGemm"/>.</summary>
    public static string Describe(PointerLoop? loop)
    {
        if (loop is null) return "";
        var parts = new List<string> { "pointer loop" };
        int acc = loop.InPlaceAccumulators, small = loop.SmallProducts;
        if (acc > 0) parts.Add(acc == 1 ? "1 accumulator in place" : $"{acc} accumulators in place");
        if (small > 0) parts.Add(small == 1 ? "1 small product" : $"{small} small products");
        return $" ({string.Join(", ", parts)})";
    }

    /// <summary>Products that run on <see cref="SmallGemm"/> (while <see cref="SmallKernel"/> is on).</summary>
    public int SmallProducts => _ops.Count(o => o is GemmOp { Small: true });

    private enum Source : byte { None, Const, Carry, Row, Produced, DirectY, Literal, Accumulator }

    private readonly int _nK, _nY, _u;
    private readonly Aval[] _avals;          // per pointer index: slots first, then literals
    private readonly Source[] _source;       // per pointer index
    private readonly int[] _index;           // per pointer index: input index (const, carry, xs), ys index (DirectY)
    private readonly int[] _rowOffset;       // per pointer index: for rows and DirectY, the step within an unrolled block
    private readonly Tensor[] _literals;     // pointer index SlotCount + i
    private readonly int[] _produced;        // slots written by a step (not DirectY)
    private readonly int[] _rowSlots, _directSlots, _carrySlots, _accumulators;
    private readonly int[] _carryOut;        // per carry: pointer index of its new value
    private readonly (int Y, int Offset, int From)[] _copiedYs; // ys not written in place: copied from this pointer index after each iteration
    private readonly Op[] _ops;

    private abstract record Op;
    private sealed record KernelOp(Kernel Kernel, Action<nint[], long, long> Run, int[] Slots, long Total, bool Parallel) : Op;
    /// <summary>A product; with <paramref name="Accumulate"/> it adds into C (an accumulator carry) instead. A small
    /// float32 one (<see cref="SmallGemm.Supports"/>) runs on <see cref="SmallGemm"/>, which prefetches the next
    /// step's rows while it computes.</summary>
    private sealed record GemmOp(GemmCall Call, int A, int B, int C, bool Accumulate = false) : Op
    {
        public bool Small { get; } = !Call.Float64 && Call.B == 1 && SmallGemm.Supports(Call.M, Call.N, Call.K, Call.TransB);
    }

    private PointerLoop(int nK, int nY, int u, Aval[] avals, Source[] source, int[] index, int[] rowOffset,
        Tensor[] literals, int slots, int[] carryOut, (int, int, int)[] copiedYs, Op[] ops)
    {
        (_nK, _nY, _u, _avals, _source, _index, _literals) = (nK, nY, u, avals, source, index, literals);
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

    /// <summary>The pointer loop for a loop body with <paramref name="nC"/> consts, <paramref name="nK"/> carries and
    /// <paramref name="nX"/> xs (none for a while loop), running <paramref name="u"/> steps per iteration (the body then
    /// takes u rows of every xs and returns u rows of every y, step-major), or null when the body has a step it cannot
    /// run (see the class summary).</summary>
    public static PointerLoop? TryBuild(CpuExecutable body, int nC, int nK, int nX, int u = 1)
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
            // A carry passed through from another carry would sit in the set the next iteration overwrites; one that stays
            // unchanged (a loop bound) keeps pointing at its initial value.
            if (source[carryOut[c]] == Source.Carry && index[carryOut[c]] != c) return null;
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
        // Constants nothing reads (those the kernels inline as literals) are not pinned: pinning would fill in a splat.
        var used = new HashSet<int>(carryOut.Concat(copied.Select(c => c.Item3)));
        foreach (var op in ops)
        {
            if (op is KernelOp k) used.UnionWith(k.Slots);
            else if (op is GemmOp g) used.UnionWith([g.A, g.B, g.C]);
        }
        for (int p = 0; p < source.Count; p++)
            if (source[p] is Source.Const or Source.Literal && !used.Contains(p)) source[p] = Source.None;
        return new PointerLoop(nK, nY, u, avals.ToArray(), source.ToArray(), index.ToArray(), rowOffset.ToArray(),
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
                !x.View.IsWhole(kernel.LoopShape) || !y.View.IsWhole(kernel.LoopShape))
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
        using var run = new Runner(this, consts, carryIn, xs, ys, outAvals, length, reverse);
        for (int step = from; step < to; step += _u) run.Iterate(step);
        return run.Finish();
    }

    /// <summary>Runs a while loop's body over pointers: <paramref name="proceed"/> gets the current carries (tensors over
    /// the loop's buffers, valid until the next iteration) and says whether to run another iteration.</summary>
    public Tensor[] RunWhile(Tensor[] consts, Tensor[] carryIn, Aval[] carryAvals, Func<Tensor[], bool> proceed)
    {
        using var run = new Runner(this, consts, carryIn, [], [], carryAvals, 0, false);
        while (proceed(run.CurrentCarries())) run.Iterate(0);
        return run.Finish();
    }

    /// <summary>One run of the loop: the pinned arrays, the two buffer sets and the current pointers.</summary>
    private sealed class Runner : IDisposable
    {
        private readonly PointerLoop _loop;
        private readonly Tensor[] _carryIn;
        private readonly Tensor[] _consts;
        private readonly Aval[] _outAvals;
        private readonly int _length;
        private readonly bool _reverse;
        private readonly nint[] _ptr, _rowBase, _rowBytes, _yBase, _yBytes, _carry;
        private readonly Array?[][] _sets = new Array?[2][];
        private readonly nint[][] _setPtr = new nint[2][];
        private readonly Array?[] _accumulated;
        private readonly nint[]?[] _args;
        private readonly List<GCHandle> _handles = [];
        private int _iteration;
        // Prefetching: the rows of xs and ys the next iteration touches, as (pointer index or y, lines), and each
        // small product's share of them as (range, first line, lines).
        private readonly (int Kind, int Index, int Offset, int Lines)[] _next;
        private readonly nint[] _nextStart;
        private readonly (int Range, int Line, int Lines)[]?[] _share;
        private readonly bool _small = SmallKernel;

        public Runner(PointerLoop loop, Tensor[] consts, Tensor[] carryIn, Tensor[] xs, Array[] ys, Aval[] outAvals, int length, bool reverse)
        {
            _loop = loop;
            (_consts, _carryIn, _outAvals, _length, _reverse) = (consts, carryIn, outAvals, length, reverse);
            int n = loop._avals.Length;
            _ptr = new nint[n];
            _rowBase = new nint[n];
            _rowBytes = new nint[n];
            _yBase = new nint[loop._nY];
            _yBytes = new nint[loop._nY];
            _carry = new nint[loop._nK];
            _accumulated = new Array?[n];
            try
            {
                for (int p = 0; p < n; p++)
                {
                    switch (loop._source[p])
                    {
                        case Source.Const: _ptr[p] = Pin(consts[loop._index[p]].Buffer!.RawArray()); break;
                        case Source.Literal: _ptr[p] = Pin(loop._literals[loop._index[p]].Buffer!.RawArray()); break;
                        case Source.Row:
                        {
                            var b = xs[loop._index[p]].Buffer!;
                            int size = loop._avals[p].Size;
                            // A splat xs (a zero tangent) has no array: its one row is materialized and read at every step.
                            _rowBase[p] = Pin(b.IsSplat ? KernelUtil.SplatRow(b, size).RawArray() : b.RawArray());
                            _rowBytes[p] = b.IsSplat ? 0 : (nint)size * loop._avals[p].DType.ItemSize();
                            break;
                        }
                        case Source.Accumulator:
                        {
                            var init = carryIn[loop._index[p]].Buffer!.RawArray();
                            _accumulated[p] = KernelUtil.NewUninitialized(loop._avals[p].DType, loop._avals[p].Size);
                            Array.Copy(init, _accumulated[p]!, loop._avals[p].Size);
                            _ptr[p] = Pin(_accumulated[p]!);
                            break;
                        }
                    }
                }
                for (int c = 0; c < loop._nK; c++) _carry[c] = Pin(carryIn[c].Buffer!.RawArray());
                for (int y = 0; y < loop._nY; y++)
                {
                    var a = outAvals[loop._nK + y];
                    _yBase[y] = Pin(ys[y]);
                    _yBytes[y] = (nint)(a.Size / Math.Max(1, length)) * a.DType.ItemSize();
                }
                for (int set = 0; set < 2; set++)
                {
                    _sets[set] = new Array?[n];
                    _setPtr[set] = new nint[n];
                    foreach (var s in loop._produced)
                    {
                        _sets[set][s] = KernelUtil.NewUninitialized(loop._avals[s].DType, loop._avals[s].Size);
                        _setPtr[set][s] = Pin(_sets[set][s]!);
                    }
                }
                _args = loop._ops.Select(o => o is KernelOp k ? new nint[k.Slots.Length] : null).ToArray();
                (_next, _share) = PlanPrefetch(loop, length);
                _nextStart = new nint[_next.Length];
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        private nint Pin(Array a)
        {
            var h = GCHandle.Alloc(a, GCHandleType.Pinned);
            _handles.Add(h);
            return h.AddrOfPinnedObject();
        }

        private int Row(int step) => _reverse ? _length - 1 - step : step;

        private const int RowOfXs = 0, RowOfY = 1;

        /// <summary>What the small products prefetch: every row the next iteration reads from an xs or writes into a y
        /// (in memory the loop has not touched yet), shared among the products in proportion to their work.</summary>
        private ((int, int, int, int)[], (int, int, int)[]?[]) PlanPrefetch(PointerLoop loop, int length)
        {
            var ops = loop._ops;
            var share = new (int, int, int)[]?[ops.Length];
            long work = _small ? ops.Sum(o => o is GemmOp { Small: true } g ? (long)g.Call.M * g.Call.N * g.Call.K : 0) : 0;
            if (work == 0 || length <= loop._u) return ([], share);
            // A row need not start on a cache line (FindNextRows rounds its start down): one more line covers its end.
            static int Lines(nint bytes) => (int)((bytes + 63) / 64) + 1;
            var next = new List<(int Kind, int Index, int Offset, int Lines)>();
            foreach (var s in loop._rowSlots) if (_rowBytes[s] > 0) next.Add((RowOfXs, s, loop._rowOffset[s], Lines(_rowBytes[s])));
            foreach (var s in loop._directSlots) next.Add((RowOfY, loop._index[s], loop._rowOffset[s], Lines(_yBytes[loop._index[s]])));
            foreach (var (y, offset, _) in loop._copiedYs) next.Add((RowOfY, y, offset, Lines(_yBytes[y])));
            long total = next.Sum(r => (long)r.Lines);
            int range = 0, line = 0;
            for (int o = 0; o < ops.Length; o++)
            {
                if (ops[o] is not GemmOp { Small: true } g) continue;
                bool last = !ops.Skip(o + 1).Any(x => x is GemmOp { Small: true });
                long quota = last ? total : (total * g.Call.M * g.Call.N * g.Call.K + work - 1) / work;
                var pieces = new List<(int, int, int)>();
                while (quota > 0 && range < next.Count && pieces.Count < PrefetchRanges.Max)
                {
                    int take = (int)Math.Min(quota, next[range].Lines - line);
                    pieces.Add((range, line, take));
                    quota -= take;
                    line += take;
                    if (line == next[range].Lines) { range++; line = 0; }
                }
                share[o] = pieces.ToArray();
            }
            return (next.ToArray(), share);
        }

        /// <summary>The first byte of each row the iteration after <paramref name="step"/>'s touches (0 past the end).</summary>
        private void FindNextRows(int step)
        {
            var loop = _loop;
            for (int r = 0; r < _next.Length; r++)
            {
                var (kind, index, offset, _) = _next[r];
                int s = step + loop._u + offset;
                _nextStart[r] = s >= _length ? 0
                    : (kind == RowOfXs ? _rowBase[index] + Row(s) * _rowBytes[index] : _yBase[index] + Row(s) * _yBytes[index]) & ~(nint)63;
            }
        }

        /// <summary>Product <paramref name="o"/>'s share of the next iteration's rows.</summary>
        private PrefetchRanges Prefetch(int o)
        {
            var ranges = new PrefetchRanges();
            if (_share[o] is { } pieces)
                foreach (var (range, line, lines) in pieces)
                    if (_nextStart[range] != 0) ranges.Add((byte*)_nextStart[range] + 64L * line, lines);
            return ranges;
        }

        /// <summary>One iteration: steps <paramref name="step"/> … <paramref name="step"/> + u − 1.</summary>
        public void Iterate(int step)
        {
            var loop = _loop;
            var ptr = _ptr;
            var current = _setPtr[_iteration & 1];
            foreach (var s in loop._produced) ptr[s] = current[s];
            foreach (var s in loop._rowSlots) ptr[s] = _rowBase[s] + Row(step + loop._rowOffset[s]) * _rowBytes[s];
            foreach (var s in loop._directSlots) ptr[s] = _yBase[loop._index[s]] + Row(step + loop._rowOffset[s]) * _yBytes[loop._index[s]];
            foreach (var s in loop._carrySlots) ptr[s] = _carry[loop._index[s]];
            if (_next.Length > 0) FindNextRows(step);
            var ops = loop._ops;
            for (int o = 0; o < ops.Length; o++)
            {
                switch (ops[o])
                {
                    case KernelOp k:
                    {
                        var a = _args[o]!;
                        for (int j = 0; j < a.Length; j++) a[j] = ptr[k.Slots[j]];
                        if (k.Parallel && Environment.ProcessorCount > 1) CpuExecutable.RunInParallel(k.Run, a, k.Total, Environment.ProcessorCount);
                        else k.Run(a, 0, k.Total);
                        break;
                    }
                    case GemmOp { Small: true } g when _small:
                        SmallGemm.Multiply((float*)ptr[g.A], g.Call.TransA, (float*)ptr[g.B], (float*)ptr[g.C], g.Call.M, g.Call.N, g.Call.K,
                            g.Accumulate, Prefetch(o));
                        break;
                    case GemmOp g:
                        g.Call.Run(ptr[g.A], ptr[g.B], ptr[g.C], g.Accumulate);
                        break;
                }
            }
            foreach (var (y, offset, src) in loop._copiedYs)
                System.Buffer.MemoryCopy((void*)ptr[src], (void*)(_yBase[y] + Row(step + offset) * _yBytes[y]), _yBytes[y], _yBytes[y]);
            for (int c = 0; c < loop._nK; c++) _carry[c] = ptr[loop._carryOut[c]];
            _iteration++;
        }

        /// <summary>The array that holds carry <paramref name="c"/>'s current value, when it is a whole array of its own
        /// (a buffer of the last iteration, an accumulator, a constant); null for a row of an xs or of a y.</summary>
        private Array? CarryArray(int c)
        {
            if (_iteration == 0) return _carryIn[c].Buffer!.RawArray();
            int p = _loop._carryOut[c];
            return _loop._source[p] switch
            {
                Source.Produced => _sets[(_iteration - 1) & 1][p],
                Source.Accumulator => _accumulated[p],
                Source.Carry => _carryIn[c].Buffer!.RawArray(), // unchanged since the start
                Source.Const => _consts[_loop._index[p]].Buffer!.RawArray(),
                Source.Literal => _loop._literals[_loop._index[p]].Buffer!.RawArray(),
                _ => null,
            };
        }

        /// <summary>The current carries as tensors over the loop's own buffers (a while loop's condition reads them; a
        /// buffer of the set is overwritten two iterations later, an accumulator by the next iteration).</summary>
        public Tensor[] CurrentCarries()
        {
            var outs = new Tensor[_loop._nK];
            for (int c = 0; c < outs.Length; c++)
                outs[c] = _iteration == 0 ? _carryIn[c] : KernelUtil.Wrap(CarryArray(c)!, _outAvals[c]);
            return outs;
        }

        /// <summary>The carries after the last iteration, as arrays of their own.</summary>
        public Tensor[] Finish()
        {
            var outs = new Tensor[_loop._nK];
            for (int c = 0; c < outs.Length; c++)
            {
                if (_iteration == 0) { outs[c] = _carryIn[c]; continue; }
                var a = _outAvals[c];
                var src = _loop._source[_loop._carryOut[c]];
                if (src == Source.Carry) { outs[c] = _carryIn[c]; continue; } // unchanged since the start
                // A buffer of the last iteration or an accumulator is this run's own array; anything else (a row of an xs
                // or of a y, a constant) is copied out.
                if (src is Source.Produced or Source.Accumulator) { outs[c] = KernelUtil.Wrap(CarryArray(c)!, a); continue; }
                var dst = KernelUtil.NewUninitialized(a.DType, a.Size);
                long bytes = (long)a.Size * a.DType.ItemSize();
                fixed (byte* d = &MemoryMarshal.GetArrayDataReference(dst))
                    System.Buffer.MemoryCopy((void*)_carry[c], d, bytes, bytes);
                outs[c] = KernelUtil.Wrap(dst, a);
            }
            return outs;
        }

        public void Dispose()
        {
            foreach (var h in _handles) if (h.IsAllocated) h.Free();
            _handles.Clear();
        }
    }
}
