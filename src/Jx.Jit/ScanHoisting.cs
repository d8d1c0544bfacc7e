namespace Jx;

/// <summary>Moves work out of scan loops. Always: a product that reads a loop constant in a layout the GEMM would read
/// transposed or copy (a backward pass's δ·Whᵀ) reads a copy of the constant transposed once before the loop instead
/// (<see cref="TryTransposeConstOperands"/>). When enabled (<see cref="JitOptions.HoistScanLoops"/>), accumulators
/// (<see cref="TryHoistAccumulator"/>) become one product or sum after the loop, and the part of a scan body that depends
/// only on the scanned inputs (xs) and the constants leaves the loop: it runs once, vectorized over all steps, before the
/// loop, and the body reads its per-step results as new xs. In a recurrent cell <c>h' = tanh(x_t·Wx + h·Wh + b)</c> the
/// input projection x_t·Wx becomes one [length·batch, in]·[in, hidden] product instead of one small product per step
/// (the loop keeps h·Wh, which depends on the carry). The hoisted equations are batched with Vmap's rules, so any pure
/// primitive can move; the pass only fires when what moves contains a product (dot_general or a convolution).
///
/// The accumulator and xs hoisting are off by default: on the 2-core development machine, whose memory bandwidth is
/// low, the stacked intermediates cost more memory traffic than the per-step calls they save — the RNN benchmark's
/// forward+backward took 77–92 ms hoisted against 58–72 ms not (docs/performance.md). They are meant for backends where
/// a per-step call is expensive (a GPU kernel launch).</summary>
internal static class ScanHoisting
{
    private static readonly HashSet<string> WorthHoisting = ["dot_general", "conv_general_dilated"];
    private static readonly HashSet<string> NeverHoisted = ["scan", "while", "cond", "pjit", "checkpoint", "custom_jvp_call", "custom_vjp_call"];

    /// <summary>Rewrites every top-level scan of the program (nested scans are handled when their enclosing body is
    /// compiled): constant operands of products first, then (with <paramref name="hoistProducts"/>) accumulators and
    /// the xs-only products.</summary>
    public static ClosedJaxpr Run(ClosedJaxpr program, bool hoistProducts)
    {
        if (!program.Jaxpr.Eqns.Any(e => e.Primitive == ControlFlow.Scan)) return program;
        var constVars = program.Jaxpr.ConstVars.ToList();
        var consts = program.Consts.ToList();
        var eqns = new List<Eqn>();
        bool changed = false;
        foreach (var e in program.Jaxpr.Eqns)
        {
            if (e.Primitive != ControlFlow.Scan) { eqns.Add(e); continue; }
            var scan = e;
            var after = new List<Eqn>();
            if (TryTransposeConstOperands(scan, eqns) is { } plain) { scan = plain; changed = true; }
            if (hoistProducts)
            {
                while (TryHoistAccumulator(scan, after) is { } next) { scan = next; changed = true; }
                if (TryHoist(scan, eqns, constVars, consts) is { } hoisted) { scan = hoisted; changed = true; }
            }
            eqns.Add(scan);
            eqns.AddRange(after);
        }
        if (!changed) return program;
        var j = program.Jaxpr;
        return new ClosedJaxpr(new Jaxpr(constVars.ToArray(), j.InVars.ToArray(), eqns.ToArray(), j.OutVars.ToArray()), consts.ToArray());
    }

    /// <summary>A dot_general in the body whose operand is a loop constant stored in a layout other than the GEMM's plain
    /// one — lhs (batch, free, contract), rhs (batch, contract, free) — would be read transposed (BLAS's slower NT/TN
    /// kernels) or copied on every step. The constant is transposed once before the loop into the plain layout, passed
    /// to the body as a new constant, and the product's dimension numbers are renumbered for it (the output's dimension
    /// order is unchanged). Returns the new scan equation (the transposes are appended to <paramref name="before"/>), or
    /// null when no product qualifies.</summary>
    private static Eqn? TryTransposeConstOperands(Eqn scan, List<Eqn> before)
    {
        var p = scan.Params;
        var body = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), length = p.Int("length");
        var bj = body.Jaxpr;
        if (length < 2) return null;
        var constIndex = new Dictionary<Var, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < nC; i++) constIndex[bj.InVars[i]] = i;

        // (const index, permutation) → the new body constant, so a constant read the same way by several products is
        // transposed once.
        var added = new List<(int Const, int[] Perm, Var Inner, Var Outer)>();
        var eqns = new List<Eqn>();
        foreach (var e in bj.Eqns)
        {
            if (e.Primitive != Linalg.DotGeneral) { eqns.Add(e); continue; }
            var dn = DotDimensionNumbers.FromParam(e.Params["dimension_numbers"]);
            var ins = e.Inputs.ToArray();
            var lhsC = dn.LhsContract; var rhsC = dn.RhsContract; var lhsB = dn.LhsBatch; var rhsB = dn.RhsBatch;
            bool rewritten = false;
            for (int side = 0; side < 2; side++)
            {
                if (ins[side] is not Var v || !constIndex.TryGetValue(v, out var ci)) continue;
                int rank = v.Aval.Rank;
                var batch = side == 0 ? lhsB : rhsB;
                var contract = side == 0 ? lhsC : rhsC;
                var free = Linalg.Free(rank, contract, batch);
                int[] perm = side == 0 ? [.. batch, .. free, .. contract] : [.. batch, .. contract, .. free];
                if (Linalg.IsIdentity(perm)) continue;
                int found = added.FindIndex(a => a.Const == ci && a.Perm.AsSpan().SequenceEqual(perm));
                if (found < 0)
                {
                    var shape = new Shape(perm.Select(d => v.Aval.Shape[d]).ToArray());
                    added.Add((ci, perm, new Var(v.Aval with { Shape = shape }), new Var(scan.Inputs[ci].Aval with { Shape = shape })));
                    found = added.Count - 1;
                }
                ins[side] = added[found].Inner;
                // In the transposed operand, batch dims come first, then (lhs) free then contract, or (rhs) contract
                // then free — each group in its original order, so the pairing with the other side is kept.
                int nb = batch.Length, nf = free.Length, nc = contract.Length;
                var newBatch = Enumerable.Range(0, nb).ToArray();
                var newContract = Enumerable.Range(side == 0 ? nb + nf : nb, nc).ToArray();
                if (side == 0) { lhsB = newBatch; lhsC = newContract; } else { rhsB = newBatch; rhsC = newContract; }
                rewritten = true;
            }
            eqns.Add(rewritten
                ? new Eqn(e.Primitive, ins, e.Params.With("dimension_numbers", new DotDimensionNumbers(lhsC, rhsC, lhsB, rhsB).ToParam()), e.Outputs.ToArray())
                : e);
        }
        if (added.Count == 0) return null;
        foreach (var a in added)
            before.Add(new Eqn(ShapeOps.Transpose, [scan.Inputs[a.Const]], Params.Of(("permutation", a.Perm)), [a.Outer]));
        var newBodyIn = bj.InVars.Take(nC).Concat(added.Select(a => a.Inner)).Concat(bj.InVars.Skip(nC)).ToArray();
        var newBody = new ClosedJaxpr(new Jaxpr(bj.ConstVars.ToArray(), newBodyIn, eqns.ToArray(), bj.OutVars.ToArray()), body.Consts.ToArray());
        var newIns = scan.Inputs.Take(nC).Concat(added.Select(a => (Atom)a.Outer)).Concat(scan.Inputs.Skip(nC)).ToArray();
        return new Eqn(scan.Primitive, newIns, p.With("jaxpr", newBody).With("num_consts", nC + added.Count), scan.Outputs.ToArray());
    }

    /// <summary>An accumulator is a carry that the body only adds a per-step term to: <c>c' = c + f</c> with f a product
    /// (dot_general without batch dims) or a sum (reduce_sum) of per-step values, used nowhere else. The loop stops
    /// carrying it; the per-step operands of f leave the loop as stacked ys instead (or are read from the stacked xs),
    /// and after the loop one product or sum over all steps at once — the step axis joins the contracted or summed axes
    /// — is added to the initial value. In a backward pass through a recurrent cell, the weight gradients
    /// Σ_t x_tᵀ·δ_t become one large product instead of one small product per step. Returns the new scan equation
    /// (with the equations to run after it appended to <paramref name="after"/>), or null.</summary>
    private static Eqn? TryHoistAccumulator(Eqn scan, List<Eqn> after)
    {
        var p = scan.Params;
        var body = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        var bj = body.Jaxpr;
        int nX = bj.InVars.Count - nC - nK;
        if (length < 2) return null;
        var uses = new Dictionary<Var, int>(ReferenceEqualityComparer.Instance);
        var producer = new Dictionary<Var, Eqn>(ReferenceEqualityComparer.Instance);
        foreach (var e in bj.Eqns)
        {
            foreach (var a in e.Inputs) if (a is Var v) uses[v] = uses.GetValueOrDefault(v) + 1;
            foreach (var o in e.Outputs) producer[o] = e;
        }
        foreach (var a in bj.OutVars) if (a is Var v) uses[v] = uses.GetValueOrDefault(v) + 1;
        var invariant = new HashSet<Var>(bj.ConstVars.Concat(bj.InVars.Take(nC)), ReferenceEqualityComparer.Instance);

        for (int k = 0; k < nK; k++)
        {
            var c = bj.InVars[nC + k];
            if (bj.OutVars[k] is not Var s || !producer.TryGetValue(s, out var add) || add.Primitive.Name != "add") continue;
            if (uses.GetValueOrDefault(c) != 1 || uses.GetValueOrDefault(s) != 1) continue;
            int ci = add.Inputs[0] == c ? 0 : add.Inputs[1] == c ? 1 : -1;
            if (ci < 0 || add.Inputs[1 - ci] is not Var f || uses.GetValueOrDefault(f) != 1 || !producer.TryGetValue(f, out var term)) continue;
            if (f.Aval.Shape != c.Aval.Shape || f.Aval.DType != c.Aval.DType) continue;
            Params post;
            if (term.Primitive.Name == "dot_general")
            {
                var dn = DotDimensionNumbers.FromParam(term.Params["dimension_numbers"]);
                if (dn.LhsBatch.Length > 0) continue;
                post = term.Params.With("dimension_numbers", new DotDimensionNumbers(
                    [0, .. dn.LhsContract.Select(d => d + 1)], [0, .. dn.RhsContract.Select(d => d + 1)], [], []).ToParam());
            }
            else if (term.Primitive.Name == "reduce_sum")
                post = term.Params.With("axes", new IntList([0, .. term.Params.Ints("axes").Select(a => a + 1)]));
            else continue;
            // Every operand of the term must vary per step (a constant operand would need Σ_t moved inside).
            if (term.Inputs.Any(a => a is not Var v || invariant.Contains(v))) continue;

            // The operands as stacked values outside the loop: an xs row is its xs; anything else becomes a new ys.
            var newYs = new List<Var>();
            var stackedOuter = new List<Atom>();
            var newOuts = new List<Var>();
            foreach (var a in term.Inputs)
            {
                var v = (Var)a;
                int xi = bj.InVars.ToList().FindIndex(iv => ReferenceEquals(iv, v));
                if (xi >= nC + nK) { stackedOuter.Add(scan.Inputs[xi]); continue; }
                int existing = newYs.FindIndex(y => ReferenceEquals(y, v));
                if (existing >= 0) { stackedOuter.Add(newOuts[existing]); continue; }
                // Already stacked as a ys (the same per-step value feeding several accumulators): read that.
                int ys = bj.OutVars.ToList().FindIndex(nK, o => ReferenceEquals(o, v));
                if (ys >= 0) { stackedOuter.Add(scan.Outputs[ys]); continue; }
                var outer = new Var(v.Aval with { Shape = new Shape([length, .. v.Aval.Shape]), Weak = false });
                newYs.Add(v);
                newOuts.Add(outer);
                stackedOuter.Add(outer);
            }
            var keptEqns = bj.Eqns.Where(e => !ReferenceEquals(e, add) && !ReferenceEquals(e, term)).ToArray();
            var bodyIn = bj.InVars.Where((_, i) => i != nC + k).ToArray();
            var bodyOut = bj.OutVars.Where((_, i) => i != k).Concat(newYs).ToArray();
            var newBody = new ClosedJaxpr(new Jaxpr(bj.ConstVars.ToArray(), bodyIn, keptEqns, bodyOut), body.Consts.ToArray());
            var ins = scan.Inputs.Where((_, i) => i != nC + k).ToArray();
            var outs = scan.Outputs.Where((_, i) => i != k).Concat(newOuts).ToArray();
            var total = new Var(f.Aval with { Weak = false });
            after.Insert(0, new Eqn(add.Primitive, ci == 0 ? [scan.Inputs[nC + k], total] : [total, scan.Inputs[nC + k]], add.Params, [scan.Outputs[k]]));
            after.Insert(0, new Eqn(term.Primitive, stackedOuter.ToArray(), post, [total]));
            return new Eqn(scan.Primitive, ins, p.With("jaxpr", newBody).With("num_carry", nK - 1), outs);
        }
        return null;
    }

    /// <summary>Hoists the xs-only products: returns the new scan equation (the batched pre-loop equations are appended
    /// to <paramref name="outEqns"/>), or null.</summary>
    private static Eqn? TryHoist(Eqn scan, List<Eqn> outEqns, List<Var> outConstVars, List<Tensor> outConsts)
    {
        var p = scan.Params;
        var body = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        var bj = body.Jaxpr;
        int nX = bj.InVars.Count - nC - nK;
        if (length < 2 || nX == 0) return null;

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
        if (!hoisted.Any(e => WorthHoisting.Contains(e.Primitive.Name))) return null;

        // The hoisted values the loop still reads: the frontier, stacked by the pre-loop computation.
        var hoistedOuts = new HashSet<Var>(hoisted.SelectMany(e => e.Outputs), ReferenceEqualityComparer.Instance);
        var frontier = new List<Var>();
        var seen = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        void Need(Atom a) { if (a is Var v && hoistedOuts.Contains(v) && seen.Add(v)) frontier.Add(v); }
        foreach (var e in kept) foreach (var a in e.Inputs) Need(a);
        foreach (var a in bj.OutVars) Need(a);
        if (frontier.Count == 0) return null;

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
        return new Eqn(scan.Primitive, newIns, p.With("jaxpr", newBody), scan.Outputs.ToArray());
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
