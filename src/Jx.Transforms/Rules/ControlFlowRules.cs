namespace Jx;

/// <summary>Differentiation and batching rules of cond, while and scan. JVPs differentiate the bodies (tangents become
/// extra operands and carries). Scan's JVP is one scan; under linearize it is split by partial evaluation into a known
/// scan that stores per-iteration residuals and a linear scan over them, whose transpose runs the transposed body in
/// reverse reading the residuals (a scan that still has known carries in a linear program — a jvp scan nested in a
/// body — re-runs its primal carry forward and re-linearizes its body per step). Cond's JVP is likewise split into a
/// known cond that returns the branch's residuals and a linear cond over them (<see cref="CondPartialEval"/>), whose
/// transpose linearizes each branch at the known residuals (a jvp cond nested in a body, or one whose branch holds a
/// scan, is staged whole and its transpose re-linearizes the branch at the known values); while has no transpose, as
/// in JAX. Batching vectorizes the bodies; a batched cond predicate selects between all branches.</summary>
internal static class ControlFlowRules
{
    private static Tensor[] Zeros(IEnumerable<Aval> avals) => avals.Select(a => Np.Zeros(a.Shape, a.DType)).ToArray();

    internal static void Register()
    {
        Ad.DefJvp(ControlFlow.Cond, CondJvp);
        Ad.DefTranspose(ControlFlow.Cond, CondTranspose);
        Ad.DefJvp(ControlFlow.Scan, ScanJvp);
        Ad.DefTranspose(ControlFlow.Scan, ScanTranspose);
        Ad.DefJvp(ControlFlow.While, WhileJvp);
        Ad.DefTranspose(ControlFlow.While, (cts, ins, p) => throw new NotDifferentiableError(
            "Reverse-mode differentiation does not work for lax.while_loop or lax.fori_loop with dynamic start/stop values. " +
            "Try using Lax.Scan, or Lax.ForiLoop with static (int) start/stop values."));
        Batching.Def(ControlFlow.Cond, CondBatch);
        Batching.Def(ControlFlow.Scan, ScanBatch);
        Batching.Def(ControlFlow.While, WhileBatch);
    }

    // ---------------- cond ----------------

    private static (Tensor[], Tensor?[]) CondJvp(Tensor[] xs, Tensor?[] ts, Params p)
    {
        var branches = ControlFlow.Branches(p);
        var ops = xs[1..];
        var diff = ops.Select(o => o.DType.IsFloating()).ToArray();
        var tin = ops.Select((o, i) => diff[i] ? ts[i + 1] ?? Ad.ZerosLikeTangent(o) : null).Where(t => t is not null).Select(t => t!).ToArray();
        // Which tangent inputs are symbolic zeros made concrete (a captured weight's): partial evaluation keeps what they
        // feed on the linear side rather than computing it now and storing it as residuals.
        var zeroTangent = ops.Select((o, i) => (diff[i], ts[i + 1] is null)).Where(d => d.Item1).Select(d => d.Item2).ToArray();
        int n = ops.Length;
        var outAvals = branches[0].OutAvals;
        var outDiff = outAvals.Select(a => a.DType.IsFloating()).ToArray();
        var fns = branches.Select(b => (Func<Tensor[], Tensor[]>)(a =>
        {
            var primals = a[..n];
            var tangents = new Tensor?[n];
            int k = n;
            for (int i = 0; i < n; i++) if (diff[i]) tangents[i] = a[k++];
            var (o, t) = JvpFlat.Run(b.Call, primals, tangents);
            return [.. o, .. t.Select((ti, i) => outDiff[i] ? ti ?? Np.ZerosLike(o[i]) : null).Where(ti => ti is not null).Select(ti => ti!)];
        })).ToArray();
        Tensor[] jvpIns = [.. ops, .. tin];
        int m = outAvals.Length;

        // Split the cond into a known one, run now, and a linear one over its residuals when linearize stages the tangents.
        var unknown = UnknownInputs(xs, jvpIns);
        if (unknown.Any(u => u))
        {
            for (int i = 0; i < zeroTangent.Length; i++) unknown[n + i] |= zeroTangent[i];
            if (CondPartialEval(xs[0], fns, jvpIns, unknown, m) is { } split) return (split[..m], Spread(split[m..], outDiff));
        }

        var r = Staging.BindCond(xs[0], fns, jvpIns);
        // The primal outputs come from the primal program alone, so they stay known (computed now) under linearize.
        var outs = ControlFlow.Cond.Bind(xs, p);
        return (outs, Spread(r[m..], outDiff));
    }

    /// <summary>Which of <paramref name="ins"/> are unknown: tracers above the level where the primal computation binds
    /// (the highest of <paramref name="primals"/>' levels and the current dynamic trace), as the tangents are when
    /// linearize stages them.</summary>
    private static bool[] UnknownInputs(Tensor[] primals, Tensor[] ins)
    {
        int primalLevel = TraceStack.Dynamic?.Level ?? 0;
        foreach (var v in primals) if (v is Tracer t) primalLevel = Math.Max(primalLevel, t.Trace.Main.Level);
        return ins.Select(v => v is Tracer t && t.Trace.Main.Level > primalLevel).ToArray();
    }

    /// <summary>Spreads the values of <paramref name="src"/> over the positions where <paramref name="present"/> is
    /// true, in order; null elsewhere (a symbolic-zero tangent).</summary>
    private static Tensor?[] Spread(Tensor[] src, bool[] present)
    {
        var r = new Tensor?[present.Length];
        int k = 0;
        for (int i = 0; i < present.Length; i++) if (present[i]) r[i] = src[k++];
        return r;
    }

    /// <summary>Partial evaluation of a jvp cond (JAX's _cond_partial_eval): each branch is traced and its equations
    /// split into known ones (no unknown input) and unknown ones. A known cond, bound now, computes the primal outputs
    /// and every branch's residuals (the known values its unknown equations read; the branch taken fills its own and
    /// zeros stand for the others'), and an unknown cond over the residuals and the unknown inputs computes the
    /// tangents — it is what gets staged and later transposed, so reverse mode does not run the taken branch's primal
    /// again. Returns the primal outputs followed by the tangent outputs, or null (having bound nothing) when a branch
    /// has an equation with both known and unknown outputs (a jvp scan nested in it) or a primal output that depends on
    /// an unknown input.</summary>
    private static Tensor[]? CondPartialEval(Tensor index, Func<Tensor[], Tensor[]>[] fns, Tensor[] operands, bool[] unknownIns, int nPrimal)
    {
        var avals = operands.Select(o => o.Aval.Strong).ToArray();
        var traced = fns.Select(f => Staging.TraceConverted(f, avals, "cond")).ToArray();
        var knownJ = new Jaxpr[fns.Length];
        var unknownJ = new Jaxpr[fns.Length];
        var residualAvals = new Aval[fns.Length][];
        var knownOperands = operands.Where((_, i) => !unknownIns[i]).ToArray();
        var unknownOperands = operands.Where((_, i) => unknownIns[i]).ToArray();
        for (int b = 0; b < fns.Length; b++)
        {
            var jx = traced[b].Jaxpr.Jaxpr;
            int nConsts = traced[b].Consts.Length;
            var opVars = jx.InVars.Skip(nConsts).ToArray();
            var unk = new HashSet<Var>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < opVars.Length; i++) if (unknownIns[i]) unk.Add(opVars[i]);
            var known = new List<Eqn>();
            var unknownEqns = new List<Eqn>();
            foreach (var e in jx.Eqns)
            {
                var dep = OutputsDependOn(e, unk);
                if (dep is null) { known.Add(e); continue; }
                if (dep.Any(d => !d)) return null;
                unknownEqns.Add(e);
                foreach (var o in e.Outputs) unk.Add(o);
            }
            bool IsUnknown(Atom a) => a is Var v && unk.Contains(v);
            if (jx.OutVars.Take(nPrimal).Any(IsUnknown)) return null;
            // Residuals: known values the unknown side reads, or returns (a tangent that does not depend on the inputs).
            var residuals = new List<Var>();
            var seen = new HashSet<Var>(ReferenceEqualityComparer.Instance);
            void Need(Atom a) { if (a is Var v && !unk.Contains(v) && seen.Add(v)) residuals.Add(v); }
            foreach (var e in unknownEqns) foreach (var a in e.Inputs) Need(a);
            foreach (var o in jx.OutVars.Skip(nPrimal)) Need(o);
            knownJ[b] = new Jaxpr([], [.. jx.InVars.Take(nConsts), .. opVars.Where((_, i) => !unknownIns[i])], known.ToArray(),
                [.. jx.OutVars.Take(nPrimal), .. residuals.Select(v => (Atom)v)]);
            unknownJ[b] = new Jaxpr([], [.. residuals, .. opVars.Where((_, i) => unknownIns[i])], unknownEqns.ToArray(), jx.OutVars.Skip(nPrimal).ToArray());
            residualAvals[b] = residuals.Select(v => v.Aval).ToArray();
        }
        var offsets = new int[fns.Length + 1];
        for (int b = 0; b < fns.Length; b++) offsets[b + 1] = offsets[b] + residualAvals[b].Length;

        var knownFns = Enumerable.Range(0, fns.Length).Select(b => (Func<Tensor[], Tensor[]>)(a =>
        {
            var r = JaxprEval.Eval(knownJ[b], [], [.. traced[b].Consts, .. a]);
            var outs = new List<Tensor>(r[..nPrimal]);
            for (int o = 0; o < fns.Length; o++)
            {
                if (o == b) outs.AddRange(r[nPrimal..]);
                else outs.AddRange(residualAvals[o].Select(v => Np.Zeros(v.Shape, v.DType)));
            }
            return outs.ToArray();
        })).ToArray();
        var knownOuts = Staging.BindCond(index, knownFns, knownOperands);
        var residualValues = knownOuts[nPrimal..];

        var unknownFns = Enumerable.Range(0, fns.Length).Select(b => (Func<Tensor[], Tensor[]>)(a =>
            JaxprEval.Eval(unknownJ[b], [], [.. a[offsets[b]..offsets[b + 1]], .. a[offsets[^1]..]]))).ToArray();
        var tangents = Staging.BindCond(index, unknownFns, [.. residualValues, .. unknownOperands]);
        return [.. knownOuts[..nPrimal], .. tangents];
    }

    /// <summary>Merges known values and linear values back into one input list.</summary>
    private static Tensor[] Merge(LinearInput[] ins, Tensor[] known, Tensor[] linear)
    {
        var r = new Tensor[ins.Length];
        int k = 0, l = 0;
        for (int i = 0; i < ins.Length; i++) r[i] = ins[i].IsLinear ? linear[l++] : known[k++];
        return r;
    }

    private static Tensor?[] CondTranspose(Tensor[] cts, LinearInput[] ins, Params p)
    {
        if (ins[0].IsLinear) throw new NotDifferentiableError("cond's index cannot be linear");
        var branches = ControlFlow.Branches(p);
        var ops = ins[1..];
        var known = ops.Where(o => !o.IsLinear).Select(o => o.Value).ToArray();
        var linAvals = ops.Where(o => o.IsLinear).Select(o => o.Aval).ToArray();
        int nk = known.Length;
        var fns = branches.Select(b => (Func<Tensor[], Tensor[]>)(a =>
        {
            var k = a[..nk];
            var c = a[nk..];
            var (_, lin) = LinearFunction.Build(l => b.Call(Merge(ops, k, l)), Zeros(linAvals), linAvals.Select(_ => true).ToArray());
            return lin.Transpose(c.Select(x => (Tensor?)x).ToArray());
        })).ToArray();
        var r = Staging.BindCond(ins[0].Value, fns, [.. known, .. cts]);
        var result = new Tensor?[ins.Length];
        int li = 0;
        for (int i = 0; i < ops.Length; i++) if (ops[i].IsLinear) result[i + 1] = r[li++];
        return result;
    }

    private static (Tensor[], int?[]) CondBatch(Tensor[] vals, int?[] dims, Params p, int size)
    {
        var branches = ControlFlow.Branches(p);
        var axis = new BatchAxis(null, size);
        var ops = vals[1..];
        var opDims = dims[1..];
        var moved = ops.Select((o, i) => Batching.MoveTo(o, opDims[i], 0, size)).ToArray();
        var allDims = moved.Select(_ => (int?)0).ToArray();
        if (dims[0] is null)
        {
            var fns = branches.Select(b => (Func<Tensor[], Tensor[]>)(a => Batching.RunBatched(b.Call, a, allDims, axis))).ToArray();
            var outs = Staging.BindCond(vals[0], fns, moved);
            return (outs, outs.Select(_ => (int?)0).ToArray());
        }
        // A batched predicate: run every branch on the whole batch and select per member.
        var index = Batching.MoveTo(vals[0], dims[0], 0, size);
        var results = branches.Select(b => Batching.RunBatched(b.Call, moved, allDims, axis)).ToArray();
        var selected = new Tensor[results[0].Length];
        for (int k = 0; k < selected.Length; k++)
        {
            var shape = results[0][k].Shape;
            var idx = Lax.BroadcastInDim(Lax.ConvertElementType(index, DType.Int32), shape, [0]);
            selected[k] = results.Length == 1 ? results[0][k] : Lax.SelectN(idx, results.Select(r => r[k]).ToArray());
        }
        return (selected, selected.Select(_ => (int?)0).ToArray());
    }

    // ---------------- scan ----------------

    /// <summary>JAX's jvp of scan: ONE scan whose body computes the primal step and its tangent together. Symbolic-zero
    /// tangents stay symbolic: zero const/xs tangents are not inputs of the jvp scan, and a carry gets a tangent only
    /// when its initial tangent is non-zero or the body makes it non-zero (a fixed point over the carries). When the
    /// tangents live at a higher trace level than the primals (linearize stages the tangents), the jvp scan is split by
    /// partial evaluation (<see cref="ScanPartialEval"/>) into a known scan, computing the primal outputs and the
    /// per-iteration residuals now, and an unknown (linear) scan over the stacked residuals, which is what gets staged
    /// and later transposed (<see cref="ScanTranspose"/>), so reverse mode never re-runs the primal body.</summary>
    private static (Tensor[], Tensor?[]) ScanJvp(Tensor[] xs, Tensor?[] ts, Params p)
    {
        var j = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        bool reverse = p.Bool("reverse");
        int unroll = p.Has("unroll") ? p.Int("unroll") : 1;
        int nX = xs.Length - nC - nK;
        int nY = j.OutAvals.Length - nK;
        var consts = xs[..nC];
        var carry = xs[nC..(nC + nK)];
        var seqs = xs[(nC + nK)..];
        bool Nz(int i) => ts[i] is not null && xs[i].DType.IsFloating();
        var nzC = Enumerable.Range(0, nC).Select(Nz).ToArray();
        var nzK = Enumerable.Range(0, nK).Select(i => Nz(nC + i)).ToArray();
        var nzX = Enumerable.Range(0, nX).Select(i => Nz(nC + nK + i)).ToArray();
        var cAvals = consts.Select(t => t.Aval.Strong).ToArray();
        var kAvals = carry.Select(t => t.Aval.Strong).ToArray();
        var xAvals = seqs.Select(t => t.Aval.Strong with { Shape = new Shape(t.Shape.Skip(1).ToArray()) }).ToArray();
        static T[] Pick<T>(T[] a, bool[] m) => a.Where((_, i) => m[i]).ToArray();

        // Trace the jvp body for the current carry-tangent pattern; retrace while the body makes a new carry tangent non-zero.
        ClosedJaxpr body;
        Tensor[] captured;
        var outNzK = new bool[nK];
        var nzY = new bool[nY];
        while (true)
        {
            int ntC = nzC.Count(b => b), ntK = nzK.Count(b => b), ntX = nzX.Count(b => b);
            var nzKNow = (bool[])nzK.Clone();
            Tensor[] Body(Tensor[] a)
            {
                int o = 0;
                var c = a[o..(o += nC)]; var tc = a[o..(o += ntC)];
                var k = a[o..(o += nK)]; var tk = a[o..(o += ntK)];
                var x = a[o..(o += nX)]; var tx = a[o..(o += ntX)];
                var (outs, touts) = JvpFlat.Run(j.Call, [.. c, .. k, .. x], [.. Spread(tc, nzC), .. Spread(tk, nzKNow), .. Spread(tx, nzX)]);
                for (int i = 0; i < nK; i++) outNzK[i] = touts[i] is not null && outs[i].DType.IsFloating();
                for (int i = 0; i < nY; i++) nzY[i] = touts[nK + i] is not null && outs[nK + i].DType.IsFloating();
                var newTCarry = Enumerable.Range(0, nK).Where(i => nzKNow[i]).Select(i => touts[i] ?? Np.ZerosLike(outs[i]));
                var tys = Enumerable.Range(0, nY).Where(i => nzY[i]).Select(i => touts[nK + i]!);
                return [.. outs[..nK], .. newTCarry, .. outs[nK..], .. tys];
            }
            Aval[] avals = [.. cAvals, .. Pick(cAvals, nzC), .. kAvals, .. Pick(kAvals, nzK), .. xAvals, .. Pick(xAvals, nzX)];
            (body, captured) = Staging.TraceConverted(Body, avals, "scan");
            bool changed = false;
            for (int i = 0; i < nK; i++) if (outNzK[i] && !nzK[i]) { nzK[i] = true; changed = true; }
            if (!changed) break;
        }
        var tC = Enumerable.Range(0, nC).Where(i => nzC[i]).Select(i => ts[i]!).ToArray();
        var tK = Enumerable.Range(0, nK).Where(i => nzK[i]).Select(i => ts[nC + i] ?? Ad.ZerosLikeTangent(carry[i])).ToArray();
        var tX = Enumerable.Range(0, nX).Where(i => nzX[i]).Select(i => ts[nC + nK + i]!).ToArray();
        Tensor[] ins = [.. captured, .. consts, .. tC, .. carry, .. tK, .. seqs, .. tX];
        int nCo = captured.Length + nC + tC.Length, nKo = nK + tK.Length;

        // Inputs above the level where the primal computation binds are unknown (being staged): split the scan.
        var unknown = UnknownInputs(xs, ins);
        var r = unknown.Any(u => u) ? ScanPartialEval(body, ins, unknown, nCo, nKo, length, reverse, unroll, nK, nY) : null;
        if (r is null)
        {
            r = BindScanJaxpr(body, ins[..nCo], ins[nCo..(nCo + nKo)], ins[(nCo + nKo)..], length, reverse, unroll);
            if (unknown.Any(u => u))
            {
                // Partial evaluation could not keep the primal outputs known (an equation of the body mixes primal and
                // tangent values in one output list, e.g. a nested jvp scan): the jvp scan is staged whole and the
                // primal outputs come from the primal scan, computed now; its transpose recomputes the primal carries.
                var primal = ControlFlow.Scan.Bind(xs, p);
                r = [.. r];
                for (int i = 0; i < nK; i++) r[i] = primal[i];
                for (int i = 0; i < nY; i++) r[nKo + i] = primal[nK + i];
            }
        }
        int nTY = nzY.Count(b => b);
        var outsAll = (Tensor[])[.. r[..nK], .. r[nKo..(nKo + nY)]];
        var tangents = Spread(r[nK..nKo], nzK).Concat(Spread(r[(nKo + nY)..(nKo + nY + nTY)], nzY)).ToArray();
        return (outsAll, tangents);
    }

    /// <summary>Binds scan over an already traced body whose constants are explicit inputs.</summary>
    private static Tensor[] BindScanJaxpr(ClosedJaxpr body, Tensor[] consts, Tensor[] carry, Tensor[] xs, int length, bool reverse, int unroll) =>
        ControlFlow.Scan.Bind([.. consts, .. carry, .. xs],
            Params.Of(("jaxpr", body), ("num_consts", consts.Length), ("num_carry", carry.Length), ("length", length), ("reverse", reverse), ("unroll", unroll)));

    /// <summary>Partial evaluation of a scan (JAX's _scan_partial_eval): given which inputs are unknown, the body's
    /// equations are split into known ones (no unknown input) and unknown ones; a carry is unknown when its initial value
    /// or its body output is (a fixed point). The known scan runs now and also returns, as extra stacked ys, the
    /// per-iteration residuals (known values the unknown equations read); loop-invariant residuals are computed once
    /// outside the loop (or are the constants themselves) and known xs are forwarded rather than re-stacked. The unknown
    /// scan reads the residuals and is bound with the unknown inputs (so it is staged). Returns the scan's outputs in the
    /// original order, or null (having bound nothing) when one of the first <paramref name="nKnownCarry"/> carries or
    /// <paramref name="nKnownYs"/> ys would be unknown.</summary>
    private static Tensor[]? ScanPartialEval(ClosedJaxpr closed, Tensor[] ins, bool[] unknownIns, int nCo, int nKo, int length, bool reverse, int unroll,
        int nKnownCarry, int nKnownYs)
    {
        var jx = closed.Jaxpr;
        if (jx.ConstVars.Count > 0)
        {
            (closed, var extra) = Staging.ConvertConstvars(closed);
            jx = closed.Jaxpr;
            ins = [.. extra, .. ins];
            unknownIns = [.. extra.Select(_ => false), .. unknownIns];
            nCo += extra.Length;
        }
        int nIn = ins.Length, nOut = jx.OutVars.Count, nYo = nOut - nKo;
        var unk = (bool[])unknownIns.Clone();
        var unkVars = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        var knownEqns = new List<Eqn>();
        var unknownEqns = new List<Eqn>();
        while (true)
        {
            unkVars.Clear(); knownEqns.Clear(); unknownEqns.Clear();
            for (int i = 0; i < nIn; i++) if (unk[i]) unkVars.Add(jx.InVars[i]);
            foreach (var e in jx.Eqns)
            {
                var dep = OutputsDependOn(e, unkVars);
                if (dep is null) { knownEqns.Add(e); continue; }
                unknownEqns.Add(e);
                for (int q = 0; q < dep.Length; q++) if (dep[q]) unkVars.Add(e.Outputs[q]);
            }
            bool changed = false;
            for (int k = 0; k < nKo; k++)
                if (!unk[nCo + k] && jx.OutVars[k] is Var ov && unkVars.Contains(ov)) { unk[nCo + k] = true; changed = true; }
            if (!changed) break;
        }
        bool IsUnk(Atom a) => a is Var v && unkVars.Contains(v);
        // A scan equation with both known and unknown outputs (a jvp scan nested in the body) runs twice: on the known
        // side with zeros for its unknown inputs (its known outputs do not depend on them), and on the unknown side with
        // its known inputs as residuals. The zeros are constants of the known body.
        var zeroVars = new List<Var>();
        var zeroVals = new List<Tensor>();
        var unknownOutsOf = new Dictionary<Eqn, Var[]>(ReferenceEqualityComparer.Instance);
        var pos = new Dictionary<Eqn, int>(ReferenceEqualityComparer.Instance);
        for (int q = 0; q < jx.Eqns.Count; q++) pos[jx.Eqns[q]] = q;
        for (int q = 0; q < unknownEqns.Count; q++)
        {
            var e = unknownEqns[q];
            if (e.Outputs.All(o => unkVars.Contains(o))) continue;
            var ins2 = e.Inputs.Select(a =>
            {
                if (!IsUnk(a)) return a;
                var z = new Var(a.Aval);
                zeroVars.Add(z);
                zeroVals.Add(Np.Zeros(a.Aval.Shape, a.Aval.DType));
                return (Atom)z;
            }).ToArray();
            var copyOuts = e.Outputs.Select(o => unkVars.Contains(o) ? new Var(o.Aval) : o).ToArray();
            var copy = new Eqn(e.Primitive, ins2, e.Params, copyOuts);
            pos[copy] = pos[e];
            int at = knownEqns.FindIndex(k => pos[k] > pos[e]);
            if (at < 0) knownEqns.Add(copy); else knownEqns.Insert(at, copy);
            unknownOutsOf[e] = e.Outputs.Select(o => unkVars.Contains(o) ? o : new Var(o.Aval)).ToArray();
        }
        var unkY = Enumerable.Range(0, nYo).Select(i => IsUnk(jx.OutVars[nKo + i])).ToArray();
        // The leading carries and ys must stay known (a jvp scan's primal outputs); otherwise the caller falls back.
        if (Enumerable.Range(0, nKnownCarry).Any(k => unk[nCo + k]) || unkY.Take(nKnownYs).Any(u => u)) return null;

        // Residuals: known variables read by the unknown side.
        var residuals = new List<Var>();
        var seen = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        void Need(Atom a) { if (a is Var v && !unkVars.Contains(v) && seen.Add(v)) residuals.Add(v); }
        foreach (var e in unknownEqns) foreach (var a in e.Inputs) Need(a);
        for (int k = 0; k < nKo; k++) if (unk[nCo + k]) Need(jx.OutVars[k]);
        for (int i = 0; i < nYo; i++) if (unkY[i]) Need(jx.OutVars[nKo + i]);

        // Classify them: known constants (passed as they are), loop-invariant values (hoisted out of the loop), known xs
        // (forwarded), and the rest (stacked per iteration by the known scan).
        var inIndex = new Dictionary<Var, int>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < nIn; i++) inIndex.TryAdd(jx.InVars[i], i);
        var constOnly = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < nCo; i++) if (!unk[i]) constOnly.Add(jx.InVars[i]);
        var constOnlyEqns = new List<Eqn>();
        foreach (var e in knownEqns)
            if (e.Inputs.All(a => a is not Var v || constOnly.Contains(v))) { constOnlyEqns.Add(e); foreach (var o in e.Outputs) constOnly.Add(o); }
        var resConstIn = new List<Var>();   // known const inputs
        var resHoisted = new List<Var>();   // loop-invariant computed values
        var resXs = new List<Var>();        // known xs inputs
        var resStacked = new List<Var>();   // per-iteration values (including known carries before each step)
        foreach (var v in residuals)
        {
            if (inIndex.TryGetValue(v, out int i))
            {
                if (i < nCo) resConstIn.Add(v);
                else if (i >= nCo + nKo) resXs.Add(v);
                else resStacked.Add(v);
            }
            else if (constOnly.Contains(v)) resHoisted.Add(v);
            else resStacked.Add(v);
        }
        var knownConstIdx = Enumerable.Range(0, nCo).Where(i => !unk[i]).ToArray();
        Tensor[] hoisted = [];
        if (resHoisted.Count > 0)
        {
            var needed = new HashSet<Var>(resHoisted, ReferenceEqualityComparer.Instance);
            var keep = new List<Eqn>();
            for (int q = constOnlyEqns.Count - 1; q >= 0; q--)
            {
                var e = constOnlyEqns[q];
                if (!e.Outputs.Any(needed.Contains)) continue;
                keep.Add(e);
                foreach (var a in e.Inputs) if (a is Var v) needed.Add(v);
            }
            keep.Reverse();
            var hj = new Jaxpr([], knownConstIdx.Select(i => jx.InVars[i]).ToArray(), keep.ToArray(), resHoisted.Select(v => (Atom)v).ToArray());
            hoisted = JaxprEval.Eval(hj, [], knownConstIdx.Select(i => ins[i]).ToArray());
        }

        // The known scan: known inputs → known carries, known ys, stacked residuals.
        var knownIdx = Enumerable.Range(0, nIn).Where(i => !unk[i]).ToArray();
        var knownK = Enumerable.Range(0, nKo).Where(k => !unk[nCo + k]).ToArray();
        var knownY = Enumerable.Range(0, nYo).Where(i => !unkY[i]).ToArray();
        var kj = new Jaxpr(zeroVars.ToArray(), knownIdx.Select(i => jx.InVars[i]).ToArray(), knownEqns.ToArray(),
            [.. knownK.Select(k => jx.OutVars[k]), .. knownY.Select(i => jx.OutVars[nKo + i]), .. resStacked]);
        int nCk = knownIdx.Count(i => i < nCo), nKk = knownK.Length;
        var kIns = knownIdx.Select(i => ins[i]).ToArray();
        var knownOuts = BindScanJaxpr(new ClosedJaxpr(kj, zeroVals.ToArray()), kIns[..nCk], kIns[nCk..(nCk + nKk)], kIns[(nCk + nKk)..], length, reverse, unroll);
        var stacked = knownOuts[(nKk + knownY.Length)..];

        // The unknown scan: (residual consts, unknown consts), unknown carries, (stacked residuals, known xs read, unknown xs).
        var sub = new Dictionary<Var, Var>(ReferenceEqualityComparer.Instance);
        Var Fresh(Var v) { var n = new Var(v.Aval); sub[v] = n; return n; }
        Atom Sub(Atom a) => a is Var v && sub.TryGetValue(v, out var n) ? n : a;
        var unkConstIdx = Enumerable.Range(0, nCo).Where(i => unk[i]).ToArray();
        var unkK = Enumerable.Range(0, nKo).Where(k => unk[nCo + k]).ToArray();
        var unkXIdx = Enumerable.Range(nCo + nKo, nIn - nCo - nKo).Where(i => unk[i]).ToArray();
        Var[] uIn =
        [
            .. resConstIn.Select(Fresh), .. resHoisted.Select(Fresh), .. unkConstIdx.Select(i => jx.InVars[i]),
            .. unkK.Select(k => jx.InVars[nCo + k]),
            .. resStacked.Select(Fresh), .. resXs.Select(Fresh), .. unkXIdx.Select(i => jx.InVars[i]),
        ];
        var uEqns = unknownEqns.Select(e => new Eqn(e.Primitive, e.Inputs.Select(Sub).ToArray(), e.Params,
            unknownOutsOf.TryGetValue(e, out var uo) ? uo : e.Outputs.ToArray())).ToArray();
        var uj = new Jaxpr([], uIn, uEqns, [.. unkK.Select(k => Sub(jx.OutVars[k])), .. Enumerable.Range(0, nYo).Where(i => unkY[i]).Select(i => Sub(jx.OutVars[nKo + i]))]);
        Tensor[] uConsts = [.. resConstIn.Select(v => ins[inIndex[v]]), .. hoisted, .. unkConstIdx.Select(i => ins[i])];
        Tensor[] uCarry = unkK.Select(k => ins[nCo + k]).ToArray();
        Tensor[] uXs = [.. stacked, .. resXs.Select(v => ins[inIndex[v]]), .. unkXIdx.Select(i => ins[i])];
        var unknownOuts = BindScanJaxpr(new ClosedJaxpr(uj, []), uConsts, uCarry, uXs, length, reverse, unroll);

        var result = new Tensor[nOut];
        int ki = 0, ui = 0;
        for (int k = 0; k < nKo; k++) result[k] = unk[nCo + k] ? unknownOuts[ui++] : knownOuts[ki++];
        for (int i = 0; i < nYo; i++) result[nKo + i] = unkY[i] ? unknownOuts[ui++] : knownOuts[ki++];
        return result;
    }

    private static Tensor?[] ScanTranspose(Tensor[] cts, LinearInput[] ins, Params p)
    {
        var j = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        bool reverse = p.Bool("reverse");
        int unroll = p.Has("unroll") ? p.Int("unroll") : 1;
        ins = LinearCarries(j, ins, nC, nK);
        var cIns = ins[..nC]; var kIns = ins[nC..(nC + nK)]; var xIns = ins[(nC + nK)..];
        int nX = xIns.Length;
        var outAvals = j.OutAvals;
        int nY = outAvals.Length - nK;
        var cKnown = cIns.Where(i => !i.IsLinear).Select(i => i.Value).ToArray();
        var kKnown = kIns.Where(i => !i.IsLinear).Select(i => i.Value).ToArray();
        var xKnown = xIns.Where(i => !i.IsLinear).Select(i => i.Value).ToArray();
        var cLinAvals = cIns.Where(i => i.IsLinear).Select(i => i.Aval).ToArray();
        var kLinAvals = kIns.Where(i => i.IsLinear).Select(i => i.Aval).ToArray();
        var xLinAvals = xIns.Where(i => i.IsLinear).Select(i => i.Aval with { Shape = new Shape(i.Shape.Skip(1).ToArray()) }).ToArray();
        var kKnownIdx = Enumerable.Range(0, nK).Where(i => !kIns[i].IsLinear).ToArray();
        var kLinIdx = Enumerable.Range(0, nK).Where(i => kIns[i].IsLinear).ToArray();
        Tensor[] Full(Tensor[] c, Tensor[] k, Tensor[] x, Tensor[] cl, Tensor[] kl, Tensor[] xl) =>
            [.. Merge(cIns, c, cl), .. Merge(kIns, k, kl), .. Merge(xIns.Select(i => i.IsLinear ? LinearInput.Undefined(i.Aval) : LinearInput.Known(i.Value)).ToArray(), x, xl)];

        if (kKnown.Length == 0) return ScanTransposeLinear(j, cts, ins, nC, nK, length, reverse, unroll);
        // A scan with known carries (a primal loop inside a linear program, e.g. a jvp scan nested in a body):
        // 1. Forward over the known parts: the known carry before every step, stacked.
        var stackedKnown = Array.Empty<Tensor>();
        if (kKnown.Length > 0)
        {
            var fwd = Staging.BindScan(a =>
            {
                var c = a[..cKnown.Length];
                var k = a[cKnown.Length..(cKnown.Length + kKnown.Length)];
                var x = a[(cKnown.Length + kKnown.Length)..];
                var outs = j.Call(Full(c, k, x, Zeros(cLinAvals), Zeros(kLinAvals), Zeros(xLinAvals)));
                return [.. kKnownIdx.Select(i => outs[i]), .. k];
            }, cKnown, kKnown, xKnown, length, reverse, unroll);
            stackedKnown = fwd[kKnown.Length..];
        }
        // 2. Backward: the transposed body runs in the opposite direction, carrying linear-carry and constant cotangents.
        var ctCarryLin = kLinIdx.Select(i => cts[i]).ToArray();
        var ctYs = cts[nK..];
        var accInit = Zeros(cLinAvals);
        int nkl = ctCarryLin.Length, ncl = accInit.Length;
        var back = Staging.BindScan(a =>
        {
            int o = 0;
            var c = a[o..(o += cKnown.Length)];
            var ctk = a[o..(o += nkl)];
            var acc = a[o..(o += ncl)];
            var x = a[o..(o += xKnown.Length)];
            var kk = a[o..(o += stackedKnown.Length)];
            var cty = a[o..];
            var (_, lin) = LinearFunction.Build(l =>
            {
                var cl = l[..ncl]; var kl = l[ncl..(ncl + nkl)]; var xl = l[(ncl + nkl)..];
                return j.Call(Full(c, kk, x, cl, kl, xl));
            }, [.. Zeros(cLinAvals), .. Zeros(kLinAvals), .. Zeros(xLinAvals)], Enumerable.Repeat(true, ncl + nkl + xLinAvals.Length).ToArray());
            var outCts = new Tensor?[nK + nY];
            for (int q = 0; q < kLinIdx.Length; q++) outCts[kLinIdx[q]] = ctk[q];
            for (int q = 0; q < nY; q++) outCts[nK + q] = cty[q];
            var inCts = lin.Transpose(outCts);
            var ctC = inCts[..ncl];
            var ctK = inCts[ncl..(ncl + nkl)];
            var ctX = inCts[(ncl + nkl)..];
            return [.. ctK, .. acc.Select((v, q) => Lax.Add(v, ctC[q])), .. ctX];
        }, cKnown, [.. ctCarryLin, .. accInit], [.. xKnown, .. stackedKnown, .. ctYs], length, !reverse, unroll);
        var finalCtK = back[..nkl];
        var finalAcc = back[nkl..(nkl + ncl)];
        var ctXs = back[(nkl + ncl)..];
        var result = new Tensor?[ins.Length];
        int ci = 0, ki = 0, xi = 0;
        for (int i = 0; i < nC; i++) if (cIns[i].IsLinear) result[i] = finalAcc[ci++];
        for (int i = 0; i < nK; i++) if (kIns[i].IsLinear) result[nC + i] = finalCtK[ki++];
        for (int i = 0; i < nX; i++) if (xIns[i].IsLinear) result[nC + nK + i] = ctXs[xi++];
        return result;
    }

    /// <summary>The transpose of a scan whose carries are all linear (what partial evaluation of a jvp scan leaves in a
    /// linear program): its body is linear in the linear inputs given the known ones (residual constants and stacked
    /// residuals), so the backward scan transposes the body jaxpr directly at each step — reading that step's residuals,
    /// never re-running the primal computation — carrying the linear carries' cotangents and the linear constants'
    /// accumulated cotangents in the opposite direction.</summary>
    private static Tensor?[] ScanTransposeLinear(ClosedJaxpr j, Tensor[] cts, LinearInput[] ins, int nC, int nK, int length, bool reverse, int unroll)
    {
        var body = j.Jaxpr;
        int nIn = ins.Length, nX = nIn - nC - nK, nY = body.OutVars.Count - nK;
        var knownIdx = Enumerable.Range(0, nIn).Where(i => !ins[i].IsLinear).ToArray();
        var linIdx = Enumerable.Range(0, nIn).Where(i => ins[i].IsLinear).ToArray();
        var cKnown = knownIdx.Where(i => i < nC).Select(i => ins[i].Value).ToArray();
        var xKnown = knownIdx.Where(i => i >= nC + nK).Select(i => ins[i].Value).ToArray();
        var cLin = linIdx.Where(i => i < nC).ToArray();
        var kLin = linIdx.Where(i => i >= nC && i < nC + nK).ToArray();
        var xLin = linIdx.Where(i => i >= nC + nK).ToArray();
        var linBody = new Jaxpr([.. body.ConstVars, .. knownIdx.Select(i => body.InVars[i])], linIdx.Select(i => body.InVars[i]).ToArray(), body.Eqns.ToArray(), body.OutVars.ToArray());
        Tensor ZeroOf(Aval a) => Np.Zeros(a.Shape, a.DType);
        int nck = cKnown.Length, nkl = kLin.Length, ncl = cLin.Length, nxk = xKnown.Length;
        var back = Staging.BindScan(a =>
        {
            int o = 0;
            var c = a[o..(o += nck)];
            var ctk = a[o..(o += nkl)];
            var acc = a[o..(o += ncl)];
            var x = a[o..(o += nxk)];
            var cty = a[o..];
            var outCts = new Tensor?[nK + nY];
            for (int q = 0; q < nkl; q++) outCts[kLin[q] - nC] = ctk[q];
            for (int q = 0; q < nY; q++) outCts[nK + q] = cty[q];
            var inCts = BackwardPass.Run(linBody, [.. j.Consts, .. c, .. x], outCts);
            var ctC = inCts[..ncl];
            var ctK = inCts[ncl..(ncl + nkl)];
            var ctX = inCts[(ncl + nkl)..];
            return
            [
                .. ctK.Select((v, q) => v ?? ZeroOf(body.InVars[kLin[q]].Aval)),
                .. acc.Select((v, q) => ctC[q] is Tensor g ? Ad.AddCotangents(v, g) : v),
                .. ctX.Select((v, q) => v ?? ZeroOf(body.InVars[xLin[q]].Aval)),
            ];
        }, cKnown, [.. kLin.Select(i => cts[i - nC]), .. cLin.Select(i => ZeroOf(ins[i].Aval))], [.. xKnown, .. cts[nK..]], length, !reverse, unroll);
        var result = new Tensor?[nIn];
        for (int q = 0; q < nkl; q++) result[kLin[q]] = back[q];
        for (int q = 0; q < ncl; q++) result[cLin[q]] = back[nkl + q];
        for (int q = 0; q < xLin.Length; q++) result[xLin[q]] = back[nkl + ncl + q];
        return result;
    }

    /// <summary>A carry is linear when its initial value is, or when the body makes it depend on a linear input
    /// (a JVP's zero-initialized tangent carry): found by propagating linearity through the body to a fixed point.
    /// Such carries are treated as linear (their known initial value is a zero tangent).</summary>
    /// <summary>Which outputs of an equation depend on the variables in <paramref name="set"/> (null when no input is
    /// in it). Every output of a primitive depends on all its inputs, except scan's: a carry or ys depends only on what
    /// its body makes it depend on (a fixed point over the carries), so a jvp scan's primal outputs do not depend on its
    /// tangent inputs.</summary>
    internal static bool[]? OutputsDependOn(Eqn e, HashSet<Var> set)
    {
        var inDep = e.Inputs.Select(a => a is Var v && set.Contains(v)).ToArray();
        if (!inDep.Any(d => d)) return null;
        if (e.Primitive != ControlFlow.Scan) return e.Outputs.Select(_ => true).ToArray();
        var body = e.Params.Get<ClosedJaxpr>("jaxpr").Jaxpr;
        int nC = e.Params.Int("num_consts"), nK = e.Params.Int("num_carry");
        var inner = CarryFixedPoint(body, inDep, nC, nK);
        return [.. Enumerable.Range(0, nK).Select(k => inDep[nC + k]), .. body.OutVars.Skip(nK).Select(o => o is Var v && inner.Contains(v))];
    }

    /// <summary>Propagates a property of a scan body's inputs (depends on a set, is linear) through its equations to a
    /// fixed point over the carries: a carry gets the property when the body's new carry has it. Marks those carries in
    /// <paramref name="flags"/> (per body input) and returns the body values that have the property.</summary>
    private static HashSet<Var> CarryFixedPoint(Jaxpr body, bool[] flags, int nC, int nK)
    {
        while (true)
        {
            var inner = new HashSet<Var>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < body.InVars.Count; i++) if (flags[i]) inner.Add(body.InVars[i]);
            foreach (var be in body.Eqns)
                if (OutputsDependOn(be, inner) is { } d)
                    for (int q = 0; q < d.Length; q++) if (d[q]) inner.Add(be.Outputs[q]);
            bool changed = false;
            for (int k = 0; k < nK; k++)
                if (!flags[nC + k] && body.OutVars[k] is Var ov && inner.Contains(ov)) { flags[nC + k] = true; changed = true; }
            if (!changed) return inner;
        }
    }

    private static LinearInput[] LinearCarries(ClosedJaxpr j, LinearInput[] ins, int nC, int nK)
    {
        var linear = ins.Select(i => i.IsLinear).ToArray();
        CarryFixedPoint(j.Jaxpr, linear, nC, nK);
        return ins.Select((i, k) => linear[k] && !i.IsLinear ? LinearInput.Undefined(i.Aval) : i).ToArray();
    }

    private static (Tensor[], int?[]) ScanBatch(Tensor[] vals, int?[] dims, Params p, int size)
    {
        var j = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        bool reverse = p.Bool("reverse");
        int unroll = p.Has("unroll") ? p.Int("unroll") : 1;
        var axis = new BatchAxis(null, size);
        var consts = vals[..nC].Select((v, i) => Batching.MoveTo(v, dims[i], 0, size)).ToArray();
        var carry = vals[nC..(nC + nK)].Select((v, i) => Batching.MoveTo(v, dims[nC + i], 0, size)).ToArray();
        var seqs = vals[(nC + nK)..].Select((v, i) => Batching.MoveTo(v, dims[nC + nK + i], 1, size)).ToArray();
        var bodyDims = Enumerable.Repeat((int?)0, nC + nK + seqs.Length).ToArray();
        var r = Staging.BindScan(a => Batching.RunBatched(j.Call, a, bodyDims, axis), consts, carry, seqs, length, reverse, unroll);
        return (r, r.Select((_, i) => (int?)(i < nK ? 0 : 1)).ToArray());
    }

    // ---------------- while ----------------

    private static (Tensor[], Tensor?[]) WhileJvp(Tensor[] xs, Tensor?[] ts, Params p)
    {
        var cj = p.Get<ClosedJaxpr>("cond_jaxpr");
        var bj = p.Get<ClosedJaxpr>("body_jaxpr");
        int nc = p.Int("cond_nconsts"), nb = p.Int("body_nconsts");
        var cc = xs[..nc]; var bc = xs[nc..(nc + nb)]; var carry = xs[(nc + nb)..];
        int nK = carry.Length;
        var dB = bc.Select(t => t.DType.IsFloating()).ToArray();
        var dK = carry.Select(t => t.DType.IsFloating()).ToArray();
        var tB = bc.Select((t, i) => dB[i] ? ts[nc + i] ?? Ad.ZerosLikeTangent(t) : null).Where(t => t is not null).Select(t => t!).ToArray();
        var tK = carry.Select((t, i) => dK[i] ? ts[nc + nb + i] ?? Ad.ZerosLikeTangent(t) : null).Where(t => t is not null).Select(t => t!).ToArray();
        var avalsK = carry.Concat(tK).Select(t => t.Aval.Strong).ToArray();
        var (newCond, ccap) = Staging.TraceConverted(a => cj.Call([.. a[..nc], .. a[nc..(nc + nK)]]), cc.Select(t => t.Aval.Strong).Concat(avalsK).ToArray(), "while_cond");
        var (newBody, bcap) = Staging.TraceConverted(a =>
        {
            var b = a[..nb]; var tb = a[nb..(nb + tB.Length)];
            var k = a[(nb + tB.Length)..(nb + tB.Length + nK)]; var tk = a[(nb + tB.Length + nK)..];
            var (o, t) = JvpFlat.Run(bj.Call, [.. b, .. k], [.. Spread(tb, dB), .. Spread(tk, dK)]);
            return [.. o, .. Enumerable.Range(0, nK).Where(i => dK[i]).Select(i => t[i] ?? Np.ZerosLike(o[i]))];
        }, bc.Concat(tB).Select(t => t.Aval.Strong).Concat(avalsK).ToArray(), "while_body");
        var r = ControlFlow.While.Bind([.. ccap, .. cc, .. bcap, .. bc, .. tB, .. carry, .. tK],
            Params.Of(("cond_jaxpr", newCond), ("body_jaxpr", newBody), ("cond_nconsts", ccap.Length + nc), ("body_nconsts", bcap.Length + nb + tB.Length)));
        return (ControlFlow.While.Bind(xs, p), Spread(r[nK..], dK));
    }

    private static (Tensor[], int?[]) WhileBatch(Tensor[] vals, int?[] dims, Params p, int size)
    {
        var cj = p.Get<ClosedJaxpr>("cond_jaxpr");
        var bj = p.Get<ClosedJaxpr>("body_jaxpr");
        int nc = p.Int("cond_nconsts"), nb = p.Int("body_nconsts");
        var axis = new BatchAxis(null, size);
        var all = vals.Select((v, i) => Batching.MoveTo(v, dims[i], 0, size)).ToArray();
        var cc = all[..nc]; var bc = all[nc..(nc + nb)]; var carry = all[(nc + nb)..];
        int nK = carry.Length;
        Tensor Pred(Tensor[] c, Tensor[] k) => Batching.RunBatched(cj.Call, [.. c, .. k], Enumerable.Repeat((int?)0, c.Length + k.Length).ToArray(), axis)[0];
        // Loop while any member is still running; finished members keep their carry.
        var (newCond, ccap) = Staging.TraceConverted(a => [Lax.ReduceOr(Pred(a[..nc], a[nc..]), [0])], cc.Concat(carry).Select(t => t.Aval.Strong).ToArray(), "while_cond");
        var (newBody, bcap) = Staging.TraceConverted(a =>
        {
            var c = a[..nc]; var b = a[nc..(nc + nb)]; var k = a[(nc + nb)..];
            var running = Pred(c, k);
            var next = Batching.RunBatched(bj.Call, [.. b, .. k], Enumerable.Repeat((int?)0, nb + nK).ToArray(), axis);
            return next.Select((nv, i) => Lax.Select(Lax.BroadcastInDim(running, nv.Shape, [0]), nv, k[i])).ToArray();
        }, cc.Concat(bc).Concat(carry).Select(t => t.Aval.Strong).ToArray(), "while_body");
        var r = ControlFlow.While.Bind([.. ccap, .. cc, .. bcap, .. cc, .. bc, .. carry],
            Params.Of(("cond_jaxpr", newCond), ("body_jaxpr", newBody), ("cond_nconsts", ccap.Length + nc), ("body_nconsts", bcap.Length + nc + nb)));
        return (r, r.Select(_ => (int?)0).ToArray());
    }
}
