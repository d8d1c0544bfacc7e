namespace Jx;

/// <summary>Differentiation and batching rules of cond, while and scan. JVPs differentiate the bodies (tangents become
/// extra operands and carries); transposes of cond and scan re-linearize each body at the known values (scan first
/// re-runs its primal carry forward to store it per iteration, then runs the transposed body in reverse); while has no
/// transpose, as in JAX. Batching vectorizes the bodies; a batched cond predicate selects between all branches.</summary>
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
        var r = Staging.BindCond(xs[0], fns, [.. ops, .. tin]);
        // The primal outputs come from the primal program alone, so they stay known (computed now) under linearize.
        var outs = ControlFlow.Cond.Bind(xs, p);
        var touts = new Tensor?[outAvals.Length];
        int m = outAvals.Length;
        for (int i = 0; i < outAvals.Length; i++) if (outDiff[i]) touts[i] = r[m++];
        return (outs, touts);
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

    private static (Tensor[], Tensor?[]) ScanJvp(Tensor[] xs, Tensor?[] ts, Params p)
    {
        var j = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        bool reverse = p.Bool("reverse");
        int nX = xs.Length - nC - nK;
        var consts = xs[..nC];
        var carry = xs[nC..(nC + nK)];
        var seqs = xs[(nC + nK)..];
        bool[] Diff(Tensor[] a) => a.Select(t => t.DType.IsFloating()).ToArray();
        var dC = Diff(consts); var dK = Diff(carry); var dX = Diff(seqs);
        Tensor[] Tan(Tensor[] a, bool[] d, int off) => a.Select((t, i) => d[i] ? ts[off + i] ?? Ad.ZerosLikeTangent(t) : null).Where(t => t is not null).Select(t => t!).ToArray();
        var tC = Tan(consts, dC, 0); var tK = Tan(carry, dK, nC); var tX = Tan(seqs, dX, nC + nK);
        var outAvals = j.OutAvals;
        var dY = outAvals[nK..].Select(a => a.DType.IsFloating()).ToArray();
        Tensor?[] Spread(Tensor[] src, bool[] d) { var r = new Tensor?[d.Length]; int k = 0; for (int i = 0; i < d.Length; i++) if (d[i]) r[i] = src[k++]; return r; }
        Tensor[] Body(Tensor[] a)
        {
            int o = 0;
            var c = a[o..(o += nC)]; var tc = a[o..(o += tC.Length)];
            var k = a[o..(o += nK)]; var tk = a[o..(o += tK.Length)];
            var x = a[o..(o += nX)]; var tx = a[o..(o += tX.Length)];
            var (outs, touts) = JvpFlat.Run(j.Call, [.. c, .. k, .. x], [.. Spread(tc, dC), .. Spread(tk, dK), .. Spread(tx, dX)]);
            var newCarry = outs[..nK];
            var newTCarry = Enumerable.Range(0, nK).Where(i => dK[i]).Select(i => touts[i] ?? Np.ZerosLike(outs[i]));
            var ys = outs[nK..];
            var tys = Enumerable.Range(0, ys.Length).Where(i => dY[i]).Select(i => touts[nK + i] ?? Np.ZerosLike(ys[i]));
            return [.. newCarry, .. newTCarry, .. ys, .. tys];
        }
        // BindScan's body sees (consts, carry, x) = ([c, tc], [k, tk], [x, tx]).
        var r = Staging.BindScan(Body, [.. consts, .. tC], [.. carry, .. tK], [.. seqs, .. tX], length, reverse);
        int nTK = tK.Length, nY = outAvals.Length - nK;
        var resCarry = r[..nK];
        var resTCarry = r[nK..(nK + nTK)];
        var resYs = r[(nK + nTK)..(nK + nTK + nY)];
        var resTYs = r[(nK + nTK + nY)..];
        // The primal outputs come from the primal scan alone, so they stay known (computed now) under linearize.
        var outsAll = ControlFlow.Scan.Bind(xs, p);
        _ = resCarry; _ = resYs;
        var tangents = Spread(resTCarry, dK).Concat(Spread(resTYs, dY)).ToArray();
        return (outsAll, tangents);
    }

    private static Tensor?[] ScanTranspose(Tensor[] cts, LinearInput[] ins, Params p)
    {
        var j = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        bool reverse = p.Bool("reverse");
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
            }, cKnown, kKnown, xKnown, length, reverse);
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
        }, cKnown, [.. ctCarryLin, .. accInit], [.. xKnown, .. stackedKnown, .. ctYs], length, !reverse);
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

    /// <summary>A carry is linear when its initial value is, or when the body makes it depend on a linear input
    /// (a JVP's zero-initialized tangent carry): found by propagating linearity through the body to a fixed point.
    /// Such carries are treated as linear (their known initial value is a zero tangent).</summary>
    private static LinearInput[] LinearCarries(ClosedJaxpr j, LinearInput[] ins, int nC, int nK)
    {
        var linear = ins.Select(i => i.IsLinear).ToArray();
        var body = j.Jaxpr;
        while (true)
        {
            var lin = new HashSet<Var>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < body.InVars.Count; i++) if (linear[i]) lin.Add(body.InVars[i]);
            foreach (var e in body.Eqns)
                if (e.Inputs.Any(a => a is Var v && lin.Contains(v))) foreach (var o in e.Outputs) lin.Add(o);
            bool changed = false;
            for (int k = 0; k < nK; k++)
                if (!linear[nC + k] && body.OutVars[k] is Var ov && lin.Contains(ov)) { linear[nC + k] = true; changed = true; }
            if (!changed) break;
        }
        return ins.Select((i, k) => linear[k] && !i.IsLinear ? LinearInput.Undefined(i.Aval) : i).ToArray();
    }

    private static (Tensor[], int?[]) ScanBatch(Tensor[] vals, int?[] dims, Params p, int size)
    {
        var j = p.Get<ClosedJaxpr>("jaxpr");
        int nC = p.Int("num_consts"), nK = p.Int("num_carry"), length = p.Int("length");
        bool reverse = p.Bool("reverse");
        var axis = new BatchAxis(null, size);
        var consts = vals[..nC].Select((v, i) => Batching.MoveTo(v, dims[i], 0, size)).ToArray();
        var carry = vals[nC..(nC + nK)].Select((v, i) => Batching.MoveTo(v, dims[nC + i], 0, size)).ToArray();
        var seqs = vals[(nC + nK)..].Select((v, i) => Batching.MoveTo(v, dims[nC + nK + i], 1, size)).ToArray();
        var bodyDims = Enumerable.Repeat((int?)0, nC + nK + seqs.Length).ToArray();
        var r = Staging.BindScan(a => Batching.RunBatched(j.Call, a, bodyDims, axis), consts, carry, seqs, length, reverse);
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
        Tensor?[] Spread(Tensor[] src, bool[] d) { var r = new Tensor?[d.Length]; int k = 0; for (int i = 0; i < d.Length; i++) if (d[i]) r[i] = src[k++]; return r; }
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
