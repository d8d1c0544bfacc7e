namespace Jx;

/// <summary>The linear part of a function at a point: a jaxpr from input tangents to output tangents whose constants are
/// the residuals of the forward pass. Built by running the JVP with tangents that are staged (partial evaluation: primal
/// work runs now, tangent work is recorded), then evaluated forward (<see cref="Apply"/>) or transposed
/// (<see cref="Transpose"/>) for reverse mode.</summary>
public sealed class LinearFunction
{
    internal ClosedJaxpr Jaxpr { get; }
    /// <summary>Which flat inputs have tangents (differentiable dtypes).</summary>
    internal bool[] InputHasTangent { get; }
    /// <summary>Which flat outputs have non-zero tangents; the jaxpr outputs are those, in order.</summary>
    internal bool[] OutputHasTangent { get; }
    internal Aval[] InAvals { get; }
    internal Aval[] OutAvals { get; }

    internal LinearFunction(ClosedJaxpr jaxpr, bool[] inHas, bool[] outHas, Aval[] inAvals, Aval[] outAvals)
    {
        Jaxpr = jaxpr;
        InputHasTangent = inHas;
        OutputHasTangent = outHas;
        InAvals = inAvals;
        OutAvals = outAvals;
    }

    /// <summary>The staged linear jaxpr (inputs: tangents of differentiable inputs; outputs: non-zero output tangents).</summary>
    public ClosedJaxpr LinearJaxpr => Jaxpr;

    /// <summary>Pushes input tangents forward (one per flat input; nulls are zeros).</summary>
    public Tensor[] Apply(Tensor?[] tangents)
    {
        var ins = new List<Tensor>();
        for (int i = 0; i < InAvals.Length; i++)
            if (InputHasTangent[i]) ins.Add(tangents[i] ?? Np.Zeros(InAvals[i].Shape, InAvals[i].DType));
        var outs = Jaxpr.Call(ins.ToArray());
        var r = new Tensor[OutAvals.Length];
        int k = 0;
        for (int i = 0; i < r.Length; i++)
            r[i] = OutputHasTangent[i] ? outs[k++] : Np.Zeros(OutAvals[i].Shape, TangentDType(OutAvals[i]));
        return r;
    }

    /// <summary>Pulls output cotangents back to input cotangents (zeros for inputs without tangents).</summary>
    public Tensor[] Transpose(Tensor?[] cotangents)
    {
        if (cotangents.Length != OutAvals.Length)
            throw new InvalidArgumentError($"the pullback takes {OutAvals.Length} cotangents (one per output leaf), got {cotangents.Length}");
        var cts = new List<Tensor?>();
        for (int i = 0; i < OutAvals.Length; i++)
        {
            var c = cotangents[i];
            if (c is not null && c.Shape != OutAvals[i].Shape)
                throw new ShapeError($"cotangent {i} has shape {c.Shape} but the output has shape {OutAvals[i].Shape}");
            if (OutputHasTangent[i]) cts.Add(c is null ? null : Lax.ConvertElementType(c, OutAvals[i].DType));
        }
        var inCts = BackwardPass.Run(Jaxpr.Jaxpr, Jaxpr.Consts.ToArray(), cts.ToArray());
        var r = new Tensor[InAvals.Length];
        int k = 0;
        for (int i = 0; i < r.Length; i++)
        {
            if (InputHasTangent[i]) { var c = inCts[k++]; r[i] = c ?? Np.Zeros(InAvals[i].Shape, InAvals[i].DType); }
            else r[i] = Np.Zeros(InAvals[i].Shape, InAvals[i].DType);
        }
        return r;
    }

    internal static DType TangentDType(Aval a) => a.DType;

    /// <summary>Linearizes a flat function at flat primals: returns the primal outputs and the linear function.</summary>
    internal static (Tensor[] Outputs, LinearFunction Linear) Build(Func<Tensor[], Tensor[]> f, Tensor[] primals, bool[] differentiable)
    {
        var builder = new JaxprBuilder();
        using var s = TraceStack.NewMain("linearize", m => new StagingTrace(m), builder, dynamic: false);
        var st = (StagingTrace)s.Main.Trace;
        var tin = new StagingTracer?[primals.Length];
        for (int i = 0; i < primals.Length; i++)
            if (differentiable[i]) tin[i] = st.NewArg(primals[i].Aval.Strong);
        Tensor[] outPrimals;
        Tensor?[] outTangents;
        using (var j = TraceStack.NewMain("jvp", m => new JvpTrace(m)))
        {
            var jt = (JvpTrace)j.Main.Trace;
            var ins = primals.Select((p, i) => (Tensor)new JvpTracer(jt, p, tin[i])).ToArray();
            var outs = f(ins);
            outPrimals = new Tensor[outs.Length];
            outTangents = new Tensor?[outs.Length];
            for (int i = 0; i < outs.Length; i++)
            {
                var o = (JvpTracer)TraceStack.FullRaise(jt, outs[i]);
                outPrimals[i] = o.Primal;
                outTangents[i] = o.Tangent;
            }
        }
        var outHas = outTangents.Select(t => t is not null).ToArray();
        var raised = outTangents.Where(t => t is not null).Select(t => (Tracer)TraceStack.FullRaise(st, t!)).ToArray();
        var jaxpr = builder.Build(tin.Where(t => t is not null).Select(t => (Tracer)t!).ToArray(), raised);
        var lin = new LinearFunction(jaxpr, differentiable, outHas, primals.Select(p => p.Aval.Strong).ToArray(), outPrimals.Select(p => p.Aval.Strong).ToArray());
        return (outPrimals.Select(TraceStack.FullLower).ToArray(), lin);
    }
}

/// <summary>Transposes a linear jaxpr: evaluates its non-linear equations forward, then walks the linear equations in
/// reverse applying each primitive's transpose rule and summing cotangents.</summary>
internal static class BackwardPass
{
    public static Tensor?[] Run(Jaxpr jaxpr, Tensor[] consts, Tensor?[] cotangentsOut)
    {
        RuleLoader.EnsureLoaded();
        var linear = new HashSet<Var>(jaxpr.InVars, ReferenceEqualityComparer.Instance);
        var env = new Dictionary<Var, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < consts.Length; i++) env[jaxpr.ConstVars[i]] = consts[i];
        Tensor Read(Atom a) => a is Literal l ? l.Value : env[(Var)a];
        var linearEqns = new List<Eqn>();
        foreach (var e in jaxpr.Eqns)
        {
            if (e.Inputs.Any(a => a is Var v && linear.Contains(v)))
            {
                foreach (var o in e.Outputs) linear.Add(o);
                linearEqns.Add(e);
            }
            else
            {
                var outs = e.Primitive.Bind(e.Inputs.Select(Read).ToArray(), e.Params);
                for (int i = 0; i < outs.Length; i++) env[e.Outputs[i]] = outs[i];
            }
        }
        var ct = new Dictionary<Var, Tensor>(ReferenceEqualityComparer.Instance);
        void Accumulate(Var v, Tensor c)
        {
            if (c.Shape != v.Aval.Shape)
                throw new InvalidOperationException($"cotangent of shape {c.Shape} for a variable {v.Aval}");
            ct[v] = ct.TryGetValue(v, out var prev) ? Ad.AddCotangents(prev, c) : c;
        }
        for (int i = 0; i < jaxpr.OutVars.Count; i++)
            if (jaxpr.OutVars[i] is Var v && linear.Contains(v) && cotangentsOut[i] is Tensor c) Accumulate(v, c);
        for (int k = linearEqns.Count - 1; k >= 0; k--)
        {
            var e = linearEqns[k];
            if (!e.Outputs.Any(o => ct.ContainsKey(o))) continue;
            var cts = e.Outputs.Select(o => ct.TryGetValue(o, out var c) ? c : Np.Zeros(o.Aval.Shape, o.Aval.DType)).ToArray();
            foreach (var o in e.Outputs) ct.Remove(o);
            var inputs = e.Inputs.Select(a => a is Var v && linear.Contains(v) ? LinearInput.Undefined(v.Aval) : LinearInput.Known(Read(a))).ToArray();
            if (!Ad.TransposeRules.TryGetValue(e.Primitive, out var rule))
                throw new NotDifferentiableError(
                    $"Transpose rule (for reverse-mode differentiation) for '{e.Primitive.Name}' not implemented. " +
                    "Reverse mode needs every operation applied to a tangent to be linear with a transpose rule; use forward mode (Jvp, Jacfwd) for this function.");
            var inCts = rule(cts, inputs, e.Params);
            for (int i = 0; i < e.Inputs.Count; i++)
                if (inputs[i].IsLinear && inCts[i] is Tensor c) Accumulate((Var)e.Inputs[i], c);
        }
        return jaxpr.InVars.Select(v => ct.TryGetValue(v, out var c) ? c : null).ToArray();
    }
}
