namespace Jx;

/// <summary>Multi-output fusion: an elementwise kernel joins an earlier elementwise kernel over the same loop space when
/// they share data — it reads a value the earlier kernel writes (which it then takes from the register instead of
/// reloading it), or both read the same buffer — so one pass over memory writes both kernels' outputs. An optimizer
/// update is the typical case: Adam's new moments m', v' and the new parameters p' (which read m' and v') become one
/// kernel that reads g, m, v and p once, where three kernels read ten arrays.
///
/// A kernel joins only when:
/// <list type="bullet">
/// <item>both are elementwise (no reduction), over the same loop shape, all the outputs they keep have one dtype, and
///   the joined kernel runs over vector lanes if either did;</item>
/// <item>it reads the earlier kernel's outputs, if at all, element for element (offset 0, row-major strides): such a read
///   becomes the earlier output's expression, computed once per element by the code generator;</item>
/// <item>no step between the two writes anything it reads (it moves up to the earlier kernel's place);</item>
/// <item>the joined expression stays small (<see cref="MaxNodes"/> nodes, counted as a tree).</item>
/// </list>
/// An earlier output that only the later kernel reads, and that the program does not return, is not stored at all: a
/// value the fuser materialized because it is used several times (or through several views) costs nothing once all its
/// readers are one kernel.
///
/// Kernels that share nothing stay apart: joining them would save a dispatch, not a pass over memory, and would hide
/// the single-output add kernels that a compiled loop folds into accumulating products.
///
/// The generated code computes all outputs of an element before storing any (see <see cref="CodeGen"/>), so a joined
/// kernel can still write an output over a buffer it reads element for element (a donated input).</summary>
internal static class MultiOutputFusion
{
    /// <summary>Largest joined kernel, in expression nodes counted as a tree (shared subtrees count once per use).</summary>
    internal const int MaxNodes = 400;

    /// <summary>On unless the environment sets JX_MULTI_OUTPUT_FUSION=0 (read once; for comparisons and debugging).</summary>
    internal static bool Enabled { get; set; } = Environment.GetEnvironmentVariable("JX_MULTI_OUTPUT_FUSION") != "0";

    public static Plan Apply(Plan plan)
    {
        if (!Enabled) return plan;
        var steps = plan.Steps;
        var returned = plan.Outputs.OfType<int>().ToHashSet();
        var readers = new Dictionary<int, int>(); // slot → number of steps that read it
        void CountReaders()
        {
            readers.Clear();
            foreach (var st in steps)
                foreach (var slot in Reads(st).Distinct()) readers[slot] = readers.GetValueOrDefault(slot) + 1;
        }
        CountReaders();
        for (int j = 1; j < steps.Count; j++)
        {
            if (steps[j] is not KernelStep { Kernel: { Reduction: null } later }) continue;
            var laterReads = later.Inputs().Select(v => v.Slot).ToHashSet();
            for (int i = j - 1; i >= Math.Max(0, j - Window); i--)
            {
                if (steps[i] is not KernelStep { Kernel: { Reduction: null } earlier }) continue;
                // An output of the earlier kernel that only the later one reads (and the program does not return) is not
                // stored at all once they are joined.
                bool Dead(int slot) => !returned.Contains(slot) && readers.GetValueOrDefault(slot) == (laterReads.Contains(slot) ? 1 : 0);
                if (Join(earlier, later, Dead) is not { } joined) continue;
                var earlierWrites = earlier.Outputs.Select(o => o.Slot).ToHashSet();
                var between = steps.Skip(i + 1).Take(j - i - 1).ToList();
                // The joined kernel runs where the earlier one ran when nothing in between writes what the later one reads,
                // else where the later one ran when nothing in between reads what the earlier one writes.
                int at;
                if (!between.Any(st => Writes(st).Any(laterReads.Contains)))
                {
                    steps[i] = new KernelStep(joined);
                    steps.RemoveAt(j);
                    at = i;
                }
                else if (!between.Any(st => Reads(st).Any(earlierWrites.Contains)))
                {
                    steps[j] = new KernelStep(joined);
                    steps.RemoveAt(i);
                    at = j - 1;
                }
                else continue;
                CountReaders();
                j = at - 1; // the joined kernel is looked at again: it may join one further back
                break;
            }
        }
        return plan;
    }

    /// <summary>How far back (in steps) a kernel looks for one to join.</summary>
    private const int Window = 64;

    /// <summary>The slots a step writes.</summary>
    private static IEnumerable<int> Writes(Step step) => step switch
    {
        KernelStep k => k.Kernel.Outputs.Select(o => o.Slot),
        LibraryStep l => l.OutSlots,
        LoopStep l => l.OutSlots,
        _ => throw new InvalidOperationException($"multi-output fusion does not know what a {step.GetType().Name} writes"),
    };

    /// <summary>The slots a step reads.</summary>
    private static IEnumerable<int> Reads(Step step) => step switch
    {
        KernelStep k => k.Kernel.Inputs().Select(v => v.Slot),
        LibraryStep l => l.Inputs.OfType<int>(),
        LoopStep l => l.Inputs.OfType<int>(),
        _ => throw new InvalidOperationException($"multi-output fusion does not know what a {step.GetType().Name} reads"),
    };

    /// <summary>The two kernels as one, or null when they may not or need not join. Outputs of the earlier kernel that
    /// are <paramref name="dead"/> once the later one reads them from the register are dropped.</summary>
    private static Kernel? Join(Kernel earlier, Kernel later, Func<int, bool> dead)
    {
        if (!earlier.LoopShape.AsSpan().SequenceEqual(later.LoopShape)) return null;
        var produced = earlier.Outputs.ToDictionary(o => o.Slot, o => o.Value);
        var readSlots = earlier.Inputs().Select(v => v.Slot).ToHashSet();
        bool shares = false;
        foreach (var v in later.Inputs())
        {
            if (produced.ContainsKey(v.Slot))
            {
                if (!v.IsWhole(later.LoopShape)) return null;
                shares = true;
            }
            else if (readSlots.Contains(v.Slot)) shares = true;
        }
        if (!shares) return null;
        var read = later.Inputs().Select(v => v.Slot).ToHashSet();
        var kept = earlier.Outputs.Where(o => !(read.Contains(o.Slot) && dead(o.Slot))).ToList();
        var outputs = new List<(Expr, int)>(kept);
        foreach (var (value, slot) in later.Outputs) outputs.Add((Substitute(value, produced, []), slot));
        if (outputs.Any(o => o.Item1.DType != outputs[0].Item1.DType)) return null;
        if (outputs.Sum(o => TreeSize(o.Item1, MaxNodes + 1)) > MaxNodes) return null;
        var kernel = new Kernel { Name = earlier.Name, LoopShape = earlier.LoopShape, Outputs = outputs };
        // The joined loop must run over vector lanes when a kernel whose outputs it stores did: a vectorized kernel joined
        // with a scalar one would turn scalar (slower). The other way is a gain: a value read from a bool buffer (which
        // keeps its reader scalar) becomes a lane mask once its kernel is joined.
        bool vectorizedBefore = CodeGen.IsVectorized(later) || (kept.Count > 0 && CodeGen.IsVectorized(earlier));
        return !vectorizedBefore || CodeGen.IsVectorized(kernel) ? kernel : null;
    }

    /// <summary>The expression with each read of an earlier output replaced by that output's expression.</summary>
    private static Expr Substitute(Expr e, Dictionary<int, Expr> produced, Dictionary<Expr, Expr> memo)
    {
        if (memo.TryGetValue(e, out var done)) return done;
        var result = e switch
        {
            InputExpr i when produced.TryGetValue(i.View.Slot, out var value) => value,
            OpExpr o => o with { Args = o.Args.Select(a => Substitute(a, produced, memo)).ToArray() },
            _ => e,
        };
        memo[e] = result;
        return result;
    }

    /// <summary>Nodes of the expression counted as a tree, stopping once past <paramref name="cap"/>.</summary>
    private static int TreeSize(Expr e, int cap)
    {
        int n = 0;
        var stack = new Stack<Expr>();
        stack.Push(e);
        while (stack.Count > 0 && n <= cap)
        {
            n++;
            if (stack.Pop() is OpExpr o) foreach (var a in o.Args) stack.Push(a);
        }
        return n;
    }
}
