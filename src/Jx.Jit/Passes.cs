namespace Jx;

/// <summary>Optimization passes over a closed jaxpr: inlining of nested jit calls, algebraic simplification
/// (x·1, x+0, convert to the same type, double transposes, reshape and broadcast chains), constant folding,
/// common-subexpression elimination, dead-code elimination, transposing loop constants that products read transposed
/// once before the loop, and (when <see cref="JitOptions.HoistScanLoops"/> is on) moving scan accumulators and xs-only
/// products out of loops. Each pass returns a new jaxpr.</summary>
public static class Passes
{
    /// <summary>Runs every pass to a fixed point (bounded).</summary>
    public static ClosedJaxpr Optimize(ClosedJaxpr j)
    {
        j = Inline(j);
        for (int i = 0; i < 4; i++)
        {
            var before = j.Jaxpr.Eqns.Count;
            j = Dce(Cse(FoldConstants(Simplify(j))));
            if (j.Jaxpr.Eqns.Count == before) break;
        }
        // Loop constants that products read transposed are transposed once before the loop; scan accumulators and
        // xs-only products move out of the loop when enabled (off by default on the CPU).
        var hoisted = ScanHoisting.Run(j, JitOptions.HoistScanLoops);
        if (!ReferenceEquals(hoisted, j)) j = Dce(Cse(FoldConstants(Simplify(hoisted))));
        return j;
    }

    private sealed class Rewriter
    {
        public readonly List<Var> ConstVars = [];
        public readonly List<Tensor> Consts = [];
        public readonly List<Eqn> Eqns = [];
        public readonly Dictionary<Var, Atom> Subst = new(ReferenceEqualityComparer.Instance);
        public Atom Read(Atom a) => a is Var v && Subst.TryGetValue(v, out var s) ? s : a;
        public ClosedJaxpr Build(Jaxpr src) =>
            new(new Jaxpr(ConstVars.ToArray(), src.InVars.ToArray(), Eqns.ToArray(), src.OutVars.Select(Read).ToArray()), Consts.ToArray());
        public static Rewriter From(ClosedJaxpr j)
        {
            var r = new Rewriter();
            r.ConstVars.AddRange(j.Jaxpr.ConstVars);
            r.Consts.AddRange(j.Consts);
            return r;
        }
    }

    /// <summary>Equations that call a sub-jaxpr on their inputs: nested jitted calls, and checkpoints (which matter only
    /// to differentiation; the compiled program is never differentiated again).</summary>
    private static bool IsCall(Eqn e) => e.Primitive.Name is "pjit" or "checkpoint";

    /// <summary>Splices the bodies of nested pjit and checkpoint equations into the outer jaxpr.</summary>
    public static ClosedJaxpr Inline(ClosedJaxpr j)
    {
        if (!j.Jaxpr.Eqns.Any(IsCall)) return j;
        var r = Rewriter.From(j);
        // Splices a body and returns the atoms standing for its outputs (nested pjits are spliced recursively).
        Atom[] Splice(Jaxpr inner, IReadOnlyList<Tensor> consts, Atom[] args)
        {
            var map = new Dictionary<Var, Atom>(ReferenceEqualityComparer.Instance);
            for (int i = 0; i < inner.ConstVars.Count; i++)
            {
                var v = new Var(inner.ConstVars[i].Aval);
                r.ConstVars.Add(v);
                r.Consts.Add(consts[i]);
                map[inner.ConstVars[i]] = v;
            }
            for (int i = 0; i < inner.InVars.Count; i++) map[inner.InVars[i]] = args[i];
            Atom M(Atom a) => a is Var v && map.TryGetValue(v, out var m) ? m : a;
            foreach (var e in inner.Eqns)
            {
                var ins = e.Inputs.Select(M).ToArray();
                if (IsCall(e))
                {
                    var cj = e.Params.Get<ClosedJaxpr>("jaxpr");
                    var outs = Splice(cj.Jaxpr, cj.Consts, ins);
                    for (int k = 0; k < outs.Length; k++) map[e.Outputs[k]] = outs[k];
                    continue;
                }
                var os = e.Outputs.Select(o => new Var(o.Aval)).ToArray();
                for (int k = 0; k < os.Length; k++) map[e.Outputs[k]] = os[k];
                r.Eqns.Add(new Eqn(e.Primitive, ins, e.Params, os));
            }
            return inner.OutVars.Select(M).ToArray();
        }
        foreach (var e in j.Jaxpr.Eqns)
        {
            var ins = e.Inputs.Select(r.Read).ToArray();
            if (IsCall(e))
            {
                var cj = e.Params.Get<ClosedJaxpr>("jaxpr");
                var outs = Splice(cj.Jaxpr, cj.Consts, ins);
                for (int k = 0; k < outs.Length; k++) r.Subst[e.Outputs[k]] = outs[k];
            }
            else r.Eqns.Add(new Eqn(e.Primitive, ins, e.Params, e.Outputs.ToArray()));
        }
        return r.Build(j.Jaxpr);
    }

    /// <summary>Removes equations whose outputs are never used (every primitive is pure).</summary>
    public static ClosedJaxpr Dce(ClosedJaxpr j)
    {
        var live = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        foreach (var o in j.Jaxpr.OutVars) if (o is Var v) live.Add(v);
        var kept = new List<Eqn>();
        for (int i = j.Jaxpr.Eqns.Count - 1; i >= 0; i--)
        {
            var e = j.Jaxpr.Eqns[i];
            if (!e.Outputs.Any(live.Contains)) continue;
            kept.Add(e);
            foreach (var a in e.Inputs) if (a is Var v) live.Add(v);
        }
        kept.Reverse();
        var cv = new List<Var>();
        var cs = new List<Tensor>();
        for (int i = 0; i < j.Jaxpr.ConstVars.Count; i++)
            if (live.Contains(j.Jaxpr.ConstVars[i])) { cv.Add(j.Jaxpr.ConstVars[i]); cs.Add(j.Consts[i]); }
        return new ClosedJaxpr(new Jaxpr(cv.ToArray(), j.Jaxpr.InVars.ToArray(), kept.ToArray(), j.Jaxpr.OutVars.ToArray()), cs.ToArray());
    }

    private sealed class EqnKey(Eqn e, Func<Atom, object> id) : IEquatable<EqnKey>
    {
        private readonly string _p = e.Primitive.Name;
        private readonly Params _params = e.Params;
        private readonly object[] _ins = e.Inputs.Select(id).ToArray();
        public bool Equals(EqnKey? o) => o is not null && o._p == _p && o._params.Equals(_params) && o._ins.SequenceEqual(_ins);
        public override bool Equals(object? obj) => obj is EqnKey k && Equals(k);
        public override int GetHashCode() { var h = new HashCode(); h.Add(_p); h.Add(_params); foreach (var i in _ins) h.Add(i); return h.ToHashCode(); }
    }

    /// <summary>Reuses the outputs of an earlier identical equation (same primitive, params and inputs).</summary>
    public static ClosedJaxpr Cse(ClosedJaxpr j)
    {
        var r = Rewriter.From(j);
        var seen = new Dictionary<EqnKey, Eqn>();
        object Id(Atom a) => a is Literal l ? (object)(l.Aval, l.Value.Buffer!.GetDouble(0)) : a;
        foreach (var e0 in j.Jaxpr.Eqns)
        {
            var e = new Eqn(e0.Primitive, e0.Inputs.Select(r.Read).ToArray(), e0.Params, e0.Outputs.ToArray());
            var key = new EqnKey(e, Id);
            if (seen.TryGetValue(key, out var prev))
            {
                for (int i = 0; i < e.Outputs.Count; i++) r.Subst[e.Outputs[i]] = prev.Outputs[i];
                continue;
            }
            seen[key] = e;
            r.Eqns.Add(e);
        }
        return r.Build(j.Jaxpr);
    }

    /// <summary>Evaluates equations whose inputs are all constants (small results only) and turns them into constants.</summary>
    public static ClosedJaxpr FoldConstants(ClosedJaxpr j, int maxElements = 4096)
    {
        var r = Rewriter.From(j);
        var known = new Dictionary<Var, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < j.Consts.Count; i++) if (j.Consts[i].IsConcrete) known[j.Jaxpr.ConstVars[i]] = j.Consts[i];
        Tensor? Value(Atom a) => a is Literal l ? l.Value : a is Var v && known.TryGetValue(v, out var t) ? t : null;
        foreach (var e0 in j.Jaxpr.Eqns)
        {
            var ins = e0.Inputs.Select(r.Read).ToArray();
            var vals = ins.Select(Value).ToArray();
            bool foldable = ins.Length > 0 && e0.Primitive.Family is not ("random" or "collective" or "custom" or "jit") && vals.All(v => v is not null)
                            && e0.Outputs.All(o => o.Aval.Size <= maxElements && o.Aval.Size <= Math.Max(1, ins.Max(a => a.Aval.Size)));
            if (foldable)
            {
                Tensor[] outs;
                using (TraceStack.EagerOnly()) outs = e0.Primitive.Bind(vals!, e0.Params);
                for (int k = 0; k < outs.Length; k++)
                {
                    if (outs[k].Rank == 0) r.Subst[e0.Outputs[k]] = new Literal(outs[k]);
                    else
                    {
                        var cv = new Var(outs[k].Aval);
                        r.ConstVars.Add(cv);
                        r.Consts.Add(outs[k]);
                        known[cv] = outs[k];
                        r.Subst[e0.Outputs[k]] = cv;
                    }
                }
                continue;
            }
            r.Eqns.Add(new Eqn(e0.Primitive, ins, e0.Params, e0.Outputs.ToArray()));
        }
        return r.Build(j.Jaxpr);
    }

    /// <summary>Algebraic simplification: x·1 and x+0 (with splat constants), convert to the same dtype, transpose of a
    /// transpose, reshape of a reshape, broadcast of a broadcast, identity shape ops.</summary>
    public static ClosedJaxpr Simplify(ClosedJaxpr j)
    {
        var r = Rewriter.From(j);
        var producer = new Dictionary<Var, Eqn>(ReferenceEqualityComparer.Instance);
        var constVals = new Dictionary<Var, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < j.Consts.Count; i++) constVals[j.Jaxpr.ConstVars[i]] = j.Consts[i];
        double? Splat(Atom a)
        {
            if (a is Literal l) return l.Value.Buffer!.GetDouble(0);
            if (a is Var v && producer.TryGetValue(v, out var pe) && pe.Primitive.Name == "broadcast_in_dim") return Splat(pe.Inputs[0]);
            if (a is Var cvar && constVals.TryGetValue(cvar, out var c) && c.IsConcrete && c.Buffer!.IsSplat) return c.Buffer.GetDouble(0);
            return null;
        }
        bool IsAdditiveIdentity(Atom a) => Splat(a) is double z && z == 0 && (!a.Aval.DType.IsFloating() || double.IsNegative(z));
        foreach (var e0 in j.Jaxpr.Eqns)
        {
            var ins = e0.Inputs.Select(r.Read).ToArray();
            var e = new Eqn(e0.Primitive, ins, e0.Params, e0.Outputs.ToArray());
            var outAval = e.Outputs.Count == 1 ? e.Outputs[0].Aval : null;
            Atom? replace = null;
            bool SameType(Atom a) => outAval is not null && a.Aval.Shape == outAval.Shape && a.Aval.DType == outAval.DType;
            switch (e.Primitive.Name)
            {
                case "mul":
                    if (Splat(ins[1]) == 1 && SameType(ins[0])) replace = ins[0];
                    else if (Splat(ins[0]) == 1 && SameType(ins[1])) replace = ins[1];
                    break;
                case "add":
                    // x + 0 → x holds for integers; for floats only when the zero is −0.0 (−0.0 + 0.0 is +0.0).
                    if (IsAdditiveIdentity(ins[1]) && SameType(ins[0])) replace = ins[0];
                    else if (IsAdditiveIdentity(ins[0]) && SameType(ins[1])) replace = ins[1];
                    break;
                case "sub":
                    // x − 0 → x, but for floats only when the zero is +0.0 (−0.0 − (−0.0) is +0.0).
                    if (Splat(ins[1]) is double sz && sz == 0 && (!ins[1].Aval.DType.IsFloating() || !double.IsNegative(sz)) && SameType(ins[0])) replace = ins[0];
                    break;
                case "div":
                    if (Splat(ins[1]) == 1 && SameType(ins[0])) replace = ins[0];
                    break;
                case "stop_gradient":
                    // The compiled program is never differentiated again: stop_gradient is the identity here.
                    replace = ins[0];
                    break;
                case "convert_element_type":
                case "reshape":
                case "squeeze":
                case "expand_dims":
                    if (SameType(ins[0]) && ins[0].Aval.Weak == outAval!.Weak) replace = ins[0];
                    else if (e.Primitive.Name == "reshape" && ins[0] is Var rv && producer.TryGetValue(rv, out var pr) && pr.Primitive.Name == "reshape")
                        e = new Eqn(e.Primitive, [pr.Inputs[0]], e.Params, e.Outputs.ToArray());
                    break;
                case "transpose":
                {
                    var perm = e.Params.Ints("permutation");
                    if (perm.Select((p, i) => p == i).All(b => b)) replace = ins[0];
                    else if (ins[0] is Var tv && producer.TryGetValue(tv, out var pt) && pt.Primitive.Name == "transpose")
                    {
                        var inner = pt.Params.Ints("permutation");
                        var composed = perm.Select(p => inner[p]).ToArray();
                        if (composed.Select((p, i) => p == i).All(b => b)) replace = pt.Inputs[0];
                        else e = new Eqn(e.Primitive, [pt.Inputs[0]], Params.Of(("permutation", composed)), e.Outputs.ToArray());
                    }
                    break;
                }
                case "broadcast_in_dim":
                    if (SameType(ins[0])) replace = ins[0];
                    else if (ins[0] is Var bv && producer.TryGetValue(bv, out var pb) && pb.Primitive.Name == "broadcast_in_dim")
                    {
                        // broadcast(broadcast(x, s1, d1), s2, d2) = broadcast(x, s2, d2[d1])
                        var d1 = pb.Params.Ints("broadcast_dimensions");
                        var d2 = e.Params.Ints("broadcast_dimensions");
                        var x = pb.Inputs[0];
                        bool ok = Enumerable.Range(0, d1.Length).All(i => x.Aval.Shape[i] == 1 || x.Aval.Shape[i] == outAval!.Shape[d2[d1[i]]]);
                        if (ok) e = new Eqn(e.Primitive, [x], e.Params.With("broadcast_dimensions", new IntList(d1.Select(d => d2[d]).ToArray())), e.Outputs.ToArray());
                    }
                    break;
            }
            if (replace is not null) { r.Subst[e.Outputs[0]] = replace; continue; }
            foreach (var o in e.Outputs) producer[o] = e;
            r.Eqns.Add(e);
        }
        return r.Build(j.Jaxpr);
    }
}
