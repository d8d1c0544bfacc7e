namespace Jx;

/// <summary>Hoists the part of a scan body that depends only on the scanned inputs (xs) and the constants out of the
/// loop: it runs once, vectorized over all steps, before the loop, and the body reads its per-step results as new xs.
/// In a recurrent cell <c>h' = tanh(x_t·Wx + h·Wh + b)</c> the input projection x_t·Wx becomes one
/// [length·batch, in]·[in, hidden] product instead of one small product per step (the loop keeps h·Wh, which depends
/// on the carry). The hoisted equations are batched with Vmap's rules, so any pure primitive can move; the pass only
/// fires when what moves contains a product (dot_general or a convolution), where batching pays for the stacked
/// intermediate it stores.</summary>
internal static class ScanHoisting
{
    private static readonly HashSet<string> WorthHoisting = ["dot_general", "conv_general_dilated"];
    private static readonly HashSet<string> NeverHoisted = ["scan", "while", "cond", "pjit", "checkpoint", "custom_jvp_call", "custom_vjp_call"];

    /// <summary>Rewrites every top-level scan of the program whose body has a hoistable product (nested scans are
    /// handled when their enclosing body is compiled).</summary>
    public static ClosedJaxpr Run(ClosedJaxpr program)
    {
        if (!program.Jaxpr.Eqns.Any(e => e.Primitive == ControlFlow.Scan)) return program;
        var constVars = program.Jaxpr.ConstVars.ToList();
        var consts = program.Consts.ToList();
        var eqns = new List<Eqn>();
        bool changed = false;
        foreach (var e in program.Jaxpr.Eqns)
        {
            if (e.Primitive == ControlFlow.Scan && TryHoist(e, eqns, constVars, consts)) changed = true;
            else eqns.Add(e);
        }
        if (!changed) return program;
        var j = program.Jaxpr;
        return new ClosedJaxpr(new Jaxpr(constVars.ToArray(), j.InVars.ToArray(), eqns.ToArray(), j.OutVars.ToArray()), consts.ToArray());
    }

    private static bool TryHoist(Eqn scan, List<Eqn> outEqns, List<Var> outConstVars, List<Tensor> outConsts)
    {
        var p = scan.Params;
        var body = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        var bj = body.Jaxpr;
        int nX = bj.InVars.Count - nC - nK;
        if (length < 2 || nX == 0) return false;

        // Which body values are known before the loop (constants, xs, and what only they feed), and which of those
        // vary with the step (depend on an xs).
        var known = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        var perStep = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        foreach (var v in bj.ConstVars) known.Add(v);
        for (int i = 0; i < nC; i++) known.Add(bj.InVars[i]);
        for (int i = nC + nK; i < bj.InVars.Count; i++) { known.Add(bj.InVars[i]); perStep.Add(bj.InVars[i]); }
        var hoisted = new List<Eqn>();
        var kept = new List<Eqn>();
        foreach (var e in bj.Eqns)
        {
            bool isKnown = !NeverHoisted.Contains(e.Primitive.Name) && e.Inputs.All(a => a is not Var v || known.Contains(v));
            bool varies = e.Inputs.Any(a => a is Var v && perStep.Contains(v));
            if (isKnown && varies)
            {
                hoisted.Add(e);
                foreach (var o in e.Outputs) { known.Add(o); perStep.Add(o); }
            }
            else
            {
                // Loop-invariant known values (constants only) stay in the body: they are cheap to recompute or are
                // kept by the body's own passes.
                kept.Add(e);
            }
        }
        if (!hoisted.Any(e => WorthHoisting.Contains(e.Primitive.Name))) return false;

        // The hoisted values the loop still reads: the frontier, stacked by the pre-loop computation.
        var hoistedOuts = new HashSet<Var>(hoisted.SelectMany(e => e.Outputs), ReferenceEqualityComparer.Instance);
        var frontier = new List<Var>();
        var seen = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        void Need(Atom a) { if (a is Var v && hoistedOuts.Contains(v) && seen.Add(v)) frontier.Add(v); }
        foreach (var e in kept) foreach (var a in e.Inputs) Need(a);
        foreach (var a in bj.OutVars) Need(a);
        if (frontier.Count == 0) return false;

        // The pre-loop function of (consts, xs rows) → frontier values, batched over the rows with Vmap's rules and
        // traced into equations of the outer program.
        var preIn = bj.InVars.Take(nC).Concat(bj.InVars.Skip(nC + nK)).ToArray();
        var pre = new ClosedJaxpr(new Jaxpr(bj.ConstVars.ToArray(), preIn, hoisted.ToArray(), frontier.Cast<Atom>().ToArray()), body.Consts.ToArray());
        var scanIns = scan.Inputs;
        var outerArgs = scanIns.Take(nC).Concat(scanIns.Skip(nC + nK)).ToArray();
        var dims = Enumerable.Range(0, preIn.Length).Select(i => i < nC ? (int?)null : 0).ToArray();
        var batched = StagingTrace.TraceToJaxpr(flat => Batching.RunBatched(a => pre.Call(a), flat, dims, Batching.RuleAxis(length)),
            outerArgs.Select(a => a.Aval).ToArray(), "scan_hoisted");
        var stacked = Splice(batched, outerArgs, outEqns, outConstVars, outConsts);

        // The body without the hoisted equations: the frontier values arrive as new xs; xs no kept equation reads drop out.
        var used = new HashSet<Var>(kept.SelectMany(e => e.Inputs).OfType<Var>().Concat(bj.OutVars.OfType<Var>()), ReferenceEqualityComparer.Instance);
        var keptXs = Enumerable.Range(nC + nK, nX).Where(i => used.Contains(bj.InVars[i])).ToArray();
        var newBodyIn = bj.InVars.Take(nC + nK).Concat(keptXs.Select(i => bj.InVars[i])).Concat(frontier).ToArray();
        var newBody = new ClosedJaxpr(new Jaxpr(bj.ConstVars.ToArray(), newBodyIn, kept.ToArray(), bj.OutVars.ToArray()), body.Consts.ToArray());
        var newIns = scanIns.Take(nC + nK).Concat(keptXs.Select(i => scanIns[i])).Concat(stacked).ToArray();
        outEqns.Add(new Eqn(scan.Primitive, newIns, p.With("jaxpr", newBody), scan.Outputs.ToArray()));
        return true;
    }

    /// <summary>Appends a traced jaxpr's equations to the outer program (its constants become outer constants, its
    /// inputs the given atoms) and returns the atoms of its outputs.</summary>
    private static Atom[] Splice(ClosedJaxpr inner, Atom[] args, List<Eqn> outEqns, List<Var> outConstVars, List<Tensor> outConsts)
    {
        var j = inner.Jaxpr;
        var map = new Dictionary<Var, Atom>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < j.ConstVars.Count; i++)
        {
            var v = new Var(j.ConstVars[i].Aval);
            outConstVars.Add(v);
            outConsts.Add(inner.Consts[i]);
            map[j.ConstVars[i]] = v;
        }
        for (int i = 0; i < j.InVars.Count; i++) map[j.InVars[i]] = args[i];
        Atom M(Atom a) => a is Var v && map.TryGetValue(v, out var m) ? m : a;
        foreach (var e in j.Eqns)
        {
            var outs = e.Outputs.Select(o => new Var(o.Aval)).ToArray();
            for (int k = 0; k < outs.Length; k++) map[e.Outputs[k]] = outs[k];
            outEqns.Add(new Eqn(e.Primitive, e.Inputs.Select(M).ToArray(), e.Params, outs));
        }
        return j.OutVars.Select(M).ToArray();
    }
}
