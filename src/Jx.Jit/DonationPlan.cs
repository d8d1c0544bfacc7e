namespace Jx;

/// <summary>Donated inputs reused for outputs (Jit's donateArgnums): a program output written by a generated kernel is
/// stored into the array of a donated input of the same dtype and size, instead of a fresh one — so an optimizer step
/// <c>Jit(step, donateArgnums: [0])</c> updates its state in place, as in JAX.
///
/// Which input may give its array to which output is decided when the program is compiled. It is safe only when no
/// step reads the input after the output's kernel has written into it: every reader of the input runs before that
/// kernel, or is that kernel itself reading it element for element (an elementwise kernel whose reads of the input are
/// the identity map, so element i is read before element i is written). Inputs that a loop or a library
/// call that could return a view reads, and inputs the program returns, never give their array.
///
/// When the program runs, a donated input gives its array only when no other argument and no constant of the program
/// holds the same array (the same tensor passed twice, or donated and captured).</summary>
internal sealed class DonationPlan
{
    /// <summary>Per program input: the output slots it may give its array to, in order of preference.</summary>
    private readonly int[][] _candidates;
    private readonly Plan _plan;

    private DonationPlan(Plan plan, int[][] candidates) { _plan = plan; _candidates = candidates; }

    /// <summary>Number of program inputs that can give their array to an output.</summary>
    public int DonatableInputs => _candidates.Count(c => c.Length > 0);

    public static DonationPlan For(Plan plan)
    {
        int n = plan.SlotAvals.Length;
        var producer = Enumerable.Repeat(-1, n).ToArray();
        for (int i = 0; i < plan.Steps.Count; i++)
            if (plan.Steps[i] is KernelStep k)
                foreach (var (_, slot) in k.Kernel.Outputs) producer[slot] = i;
        var returned = plan.Outputs.OfType<int>().ToHashSet();
        var outputSlots = plan.Outputs.OfType<int>().Distinct().Where(s => producer[s] >= 0 && plan.SlotAvals[s].Size > 0).ToArray();

        var candidates = new int[plan.InputSlots.Length][];
        for (int i = 0; i < plan.InputSlots.Length; i++)
        {
            int s = plan.InputSlots[i];
            var aval = plan.SlotAvals[s];
            // The latest step that reads the input, and whether that step may read it in place.
            int lastRead = -1;
            bool blocked = returned.Contains(s) || Array.IndexOf(plan.InputSlots, s) != i;
            for (int step = 0; step < plan.Steps.Count && !blocked; step++)
            {
                switch (plan.Steps[step])
                {
                    case KernelStep k when k.Kernel.Inputs().Any(v => v.Slot == s):
                        lastRead = step;
                        break;
                    case LibraryStep l when l.Inputs.Contains(s):
                        if (!BufferPlan.FreshResultLibraryOps.Contains(l.Eqn.Primitive.Name)) blocked = true;
                        lastRead = step;
                        break;
                    case LoopStep l when l.Inputs.Contains(s):
                        blocked = true;
                        break;
                }
            }
            candidates[i] = blocked ? [] : outputSlots
                .Where(o => plan.SlotAvals[o].DType == aval.DType && plan.SlotAvals[o].Size == aval.Size)
                .Where(o => lastRead < producer[o] || (lastRead == producer[o] && ReadsInPlace((KernelStep)plan.Steps[producer[o]], s)))
                .ToArray();
        }
        return new DonationPlan(plan, candidates);
    }

    /// <summary>Whether the kernel reads slot s element for element at the position it writes (so writing one of its
    /// outputs over s is safe: the generated code computes all outputs of an element before storing any).</summary>
    private static bool ReadsInPlace(KernelStep k, int s) =>
        k.Kernel.Reduction is null && k.Kernel.Inputs().All(v => v.Slot != s || v.IsWhole(k.Kernel.LoopShape));

    /// <summary>For this call: output slot → the donated array it is written into, or null when nothing is donated.</summary>
    public Dictionary<int, Array>? Assign(Tensor[] args, bool[]? donated)
    {
        if (donated is null) return null;
        Dictionary<int, Array>? into = null;
        for (int i = 0; i < args.Length && i < donated.Length; i++)
        {
            if (!donated[i] || _candidates[i].Length == 0) continue;
            var b = args[i].Buffer;
            if (b is null || b.IsSplat) continue;
            var array = b.RawArray();
            if (array.Length != _plan.SlotAvals[_plan.InputSlots[i]].Size || HeldElsewhere(array, args, i)) continue;
            foreach (var slot in _candidates[i])
            {
                into ??= new Dictionary<int, Array>();
                if (into.TryAdd(slot, array)) break;
            }
        }
        return into;
    }

    private bool HeldElsewhere(Array array, Tensor[] args, int self)
    {
        for (int j = 0; j < args.Length; j++)
            if (j != self && args[j].Buffer is { IsSplat: false } other && ReferenceEquals(other.RawArray(), array)) return true;
        foreach (var (_, value) in _plan.ConstSlots)
            if (value.Buffer is { IsSplat: false } c && ReferenceEquals(c.RawArray(), array)) return true;
        return false;
    }

    public string Describe(Func<int, string> slotName)
    {
        var lines = Enumerable.Range(0, _candidates.Length).Where(i => _candidates[i].Length > 0)
            .Select(i => $"input {i} → {string.Join(" or ", _candidates[i].Select(slotName))}").ToList();
        return lines.Count == 0 ? "donation: no input can be written in place" : "donation (when donated): " + string.Join("; ", lines);
    }
}
