using System.Collections.Concurrent;

namespace Jx;

/// <summary>Buffers for a program's intermediates, planned by liveness: a kernel output (or a product's result, or a
/// scan's stacked ys) that the program does not return lives from the step that writes it to the last step that reads
/// it, and values whose lifetimes do not overlap share one buffer of their dtype and size. The buffers are reused across
/// calls: each call rents a set from a pool (so concurrent calls of one program never share one) and returns it when
/// the call ends, so a program run in a loop allocates only what it returns and what its other library calls (sorts,
/// gathers, ...) produce.
///
/// A value gets a planned buffer only when nothing can keep a reference to it after the call: it is written by a
/// generated kernel, by a float dot_general or as a scan's ys, is not a program output, and every reader is a generated
/// kernel, a library call that writes a fresh result (dot_general, convolution) or a scan that reads it as xs (rows are
/// copied out) — never a loop that may pass it through, or a library call whose result could be a view of its
/// input.</summary>
internal sealed class BufferPlan
{
    /// <summary>Library primitives whose results never share memory with their operands (the other library kernels
    /// may return a view of an operand; <see cref="DonationPlan"/> relies on the same list).</summary>
    internal static readonly HashSet<string> FreshResultLibraryOps = ["dot_general", "conv_general_dilated"];

    /// <summary>Per slot: the planned buffer's index, or -1 (allocated per call, or not written by a kernel, a float
    /// product or a scan's ys).</summary>
    private readonly int[] _slotBuffer;
    private readonly Aval[] _buffers;
    private readonly ConcurrentBag<Array?[]> _pool = [];

    private BufferPlan(int[] slotBuffer, Aval[] buffers) { _slotBuffer = slotBuffer; _buffers = buffers; }

    /// <summary>Number of distinct planned buffers (shared by <see cref="PlannedValues"/> values).</summary>
    public int BufferCount => _buffers.Length;
    /// <summary>Number of intermediates that live in planned buffers.</summary>
    public int PlannedValues => _slotBuffer.Count(b => b >= 0);

    /// <summary>Library steps whose kernel can write its result into a given buffer (dot_general in float32/64).</summary>
    internal static bool WritesIntoBuffer(LibraryStep l) => l.Eqn.Primitive == Linalg.DotGeneral && Linalg.WritesInto(l.OutAvals[0]);

    public static BufferPlan For(Plan plan)
    {
        int n = plan.SlotAvals.Length;
        var writer = Enumerable.Repeat(-1, n).ToArray();
        var lastRead = Enumerable.Repeat(-1, n).ToArray();
        var eligible = new bool[n];
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            switch (plan.Steps[i])
            {
                case KernelStep k:
                    foreach (var (_, slot) in k.Kernel.Outputs) { writer[slot] = i; eligible[slot] = true; }
                    break;
                case LibraryStep l when WritesIntoBuffer(l):
                    writer[l.OutSlots[0]] = i;
                    eligible[l.OutSlots[0]] = true;
                    break;
                case LoopStep l:
                    for (int o = 0; o < l.OutSlots.Length; o++)
                        if (l.WritesFresh(o)) { writer[l.OutSlots[o]] = i; eligible[l.OutSlots[o]] = true; }
                    break;
            }
        }
        foreach (var o in plan.Outputs) if (o is int s) eligible[s] = false;
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            var (reads, keepsReference) = plan.Steps[i] switch
            {
                KernelStep k => (k.Kernel.Inputs().Select(v => v.Slot), false),
                LibraryStep l => (l.Inputs.OfType<int>(), !FreshResultLibraryOps.Contains(l.Eqn.Primitive.Name)),
                LoopStep => (Enumerable.Empty<int>(), false), // per input below
                _ => (Enumerable.Empty<int>(), true),
            };
            foreach (var s in reads)
            {
                lastRead[s] = Math.Max(lastRead[s], i);
                if (keepsReference) eligible[s] = false;
            }
            if (plan.Steps[i] is LoopStep loop)
                for (int k = 0; k < loop.Inputs.Length; k++)
                    if (loop.Inputs[k] is int s)
                    {
                        lastRead[s] = Math.Max(lastRead[s], i);
                        if (loop.KeepsReference(k)) eligible[s] = false;
                    }
        }

        // Greedy assignment in step order: a buffer freed by a value's last read becomes available to the values
        // written by later steps (not by the reading step itself, whose outputs may be written while it reads).
        var slotBuffer = Enumerable.Repeat(-1, n).ToArray();
        var buffers = new List<Aval>();
        var free = new Dictionary<(DType, int), Stack<int>>();
        var releaseAfter = new List<int>[plan.Steps.Count];
        for (int s = 0; s < n; s++)
        {
            if (!eligible[s] || writer[s] < 0 || plan.SlotAvals[s].Size == 0) continue;
            int end = Math.Max(lastRead[s], writer[s]);
            (releaseAfter[end] ??= []).Add(s);
        }
        for (int i = 0; i < plan.Steps.Count; i++)
        {
            var written = plan.Steps[i] switch
            {
                KernelStep k => k.Kernel.Outputs.Select(o => o.Slot),
                LibraryStep l when WritesIntoBuffer(l) => l.OutSlots,
                LoopStep l => l.OutSlots.Where((_, o) => l.WritesFresh(o)),
                _ => [],
            };
            foreach (var slot in written)
            {
                if (!eligible[slot] || plan.SlotAvals[slot].Size == 0) continue;
                var aval = plan.SlotAvals[slot];
                var key = (aval.DType, aval.Size);
                if (free.TryGetValue(key, out var stack) && stack.Count > 0) slotBuffer[slot] = stack.Pop();
                else { slotBuffer[slot] = buffers.Count; buffers.Add(new Aval(new Shape([aval.Size]), aval.DType)); }
            }
            if (releaseAfter[i] is { } done)
                foreach (var s in done)
                {
                    var aval = plan.SlotAvals[s];
                    var key = (aval.DType, aval.Size);
                    if (!free.TryGetValue(key, out var stack)) free[key] = stack = new Stack<int>();
                    stack.Push(slotBuffer[s]);
                }
        }
        return new BufferPlan(slotBuffer, buffers.ToArray());
    }

    /// <summary>A set of buffers for one call (null until a slot first needs it); give it back with <see cref="Return"/>.</summary>
    public Array?[]? Rent() => _buffers.Length == 0 ? null : _pool.TryTake(out var set) ? set : new Array?[_buffers.Length];

    public void Return(Array?[]? set) { if (set is not null) _pool.Add(set); }

    /// <summary>The array a kernel writes for <paramref name="slot"/>: the planned buffer of this call's set, or null
    /// when the slot has none (the caller allocates a fresh one).</summary>
    public Array? For(Array?[]? set, int slot)
    {
        if (set is null) return null;
        int b = _slotBuffer[slot];
        if (b < 0) return null;
        return set[b] ??= KernelUtil.NewUninitialized(_buffers[b].DType, _buffers[b].Size);
    }

    public string Describe(Func<int, string> slotName)
    {
        if (_buffers.Length == 0) return "buffers: every kernel output is allocated per call";
        var groups = Enumerable.Range(0, _slotBuffer.Length).Where(s => _slotBuffer[s] >= 0).GroupBy(s => _slotBuffer[s]).OrderBy(g => g.Key);
        return $"buffers: {PlannedValues} intermediates in {BufferCount} reused buffers — " +
               string.Join("; ", groups.Select(g => $"b{g.Key} {_buffers[g.Key].DType.Name()}[{_buffers[g.Key].Size}]: {string.Join(", ", g.Select(slotName))}"));
    }
}
