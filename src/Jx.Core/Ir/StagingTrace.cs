namespace Jx;

/// <summary>A tracer of a <see cref="StagingTrace"/>: stands for a jaxpr variable.</summary>
public sealed class StagingTracer : Tracer
{
    private readonly StagingTrace _trace;
    private readonly Aval _aval;
    internal StagingTracer(StagingTrace trace, Aval aval) { _trace = trace; _aval = aval; }
    public override Trace Trace => _trace;
    public override Aval Aval => _aval;
}

/// <summary>Collects the equations of a staged function and closes them into a jaxpr.</summary>
public sealed class JaxprBuilder
{
    private readonly List<Eqn> _eqns = [];
    private readonly Dictionary<Tracer, Var> _tracerToVar = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<Tensor, Tracer> _constTracers = new(ReferenceEqualityComparer.Instance);
    private readonly List<(Var Var, Tensor Value)> _consts = [];

    internal Var NewVar(Tracer t)
    {
        var v = new Var(t.Aval);
        _tracerToVar[t] = v;
        return v;
    }

    internal Var GetVar(Tracer t) => _tracerToVar.TryGetValue(t, out var v) ? v
        : throw new EscapedTracerError($"a tracer {t.Aval} of an outer staged function was used inside another one without being passed in");

    internal Tracer ConstTracer(StagingTrace trace, Tensor value)
    {
        if (_constTracers.TryGetValue(value, out var t)) return t;
        t = new StagingTracer(trace, value.Aval);
        var v = NewVar(t);
        _consts.Add((v, value));
        _constTracers[value] = t;
        return t;
    }

    internal void AddEqn(Eqn e) => _eqns.Add(e);

    /// <summary>Builds the closed jaxpr for the given input and output tracers; scalar concrete constants become literals
    /// and unused constants are dropped.</summary>
    internal ClosedJaxpr Build(IReadOnlyList<Tracer> ins, IReadOnlyList<Tensor> outs)
    {
        var inVars = ins.Select(GetVar).ToArray();
        var outAtoms = outs.Select(o => (Atom)GetVar((Tracer)o)).ToArray();
        // Inline scalar concrete constants as literals.
        var literal = new Dictionary<Var, Literal>(ReferenceEqualityComparer.Instance);
        foreach (var (v, val) in _consts)
            if (val is not Tracer && val.Rank == 0) literal[v] = new Literal(val);
        Atom Sub(Atom a) => a is Var v && literal.TryGetValue(v, out var l) ? l : a;
        var eqns = _eqns.Select(e => new Eqn(e.Primitive, e.Inputs.Select(Sub).ToArray(), e.Params, e.Outputs.ToArray())).ToArray();
        outAtoms = outAtoms.Select(Sub).ToArray();
        var used = new HashSet<Var>(ReferenceEqualityComparer.Instance);
        foreach (var e in eqns) foreach (var a in e.Inputs) if (a is Var v) used.Add(v);
        foreach (var a in outAtoms) if (a is Var v) used.Add(v);
        var keep = _consts.Where(c => !literal.ContainsKey(c.Var) && used.Contains(c.Var)).ToArray();
        var jaxpr = new Jaxpr(keep.Select(c => c.Var).ToArray(), inVars, eqns, outAtoms);
        return new ClosedJaxpr(jaxpr, keep.Select(c => c.Value).ToArray());
    }
}

/// <summary>Records every primitive applied to its tracers as an equation (JAX's DynamicJaxprTrace). Used by
/// <see cref="Jax.MakeJaxpr{TIn,TOut}"/>, and by Jit and control flow to stage functions out.</summary>
public sealed class StagingTrace : Trace
{
    internal StagingTrace(MainTrace main) : base(main) { }
    public JaxprBuilder Builder => (JaxprBuilder)Main.GlobalData!;

    public override Tensor Pure(Tensor value) => Builder.ConstTracer(this, value);
    public override Tensor Lift(Tensor value) => Builder.ConstTracer(this, value);

    /// <summary>A new input variable of the staged function.</summary>
    public StagingTracer NewArg(Aval aval)
    {
        var t = new StagingTracer(this, aval);
        Builder.NewVar(t);
        return t;
    }

    public override Tensor[] ProcessPrimitive(Primitive primitive, Tensor[] tracers, Params parameters)
    {
        var inAvals = tracers.Select(t => t.Aval).ToArray();
        var outAvals = primitive.AbstractEval(inAvals, parameters);
        var ins = tracers.Select(t => (Atom)Builder.GetVar((Tracer)t)).ToArray();
        var outs = outAvals.Select(a => new StagingTracer(this, a)).ToArray();
        var outVars = outs.Select(Builder.NewVar).ToArray();
        Builder.AddEqn(new Eqn(primitive, ins, parameters, outVars));
        return outs;
    }

    /// <summary>Traces <paramref name="f"/> on abstract inputs into a closed jaxpr (flat inputs and outputs).</summary>
    public static ClosedJaxpr TraceToJaxpr(Func<Tensor[], Tensor[]> f, Aval[] inAvals, string name = "make_jaxpr")
    {
        var builder = new JaxprBuilder();
        using var scope = TraceStack.NewMain(name, m => new StagingTrace(m), builder, dynamic: true);
        var trace = (StagingTrace)scope.Main.Trace;
        var args = inAvals.Select(trace.NewArg).ToArray();
        var outs = f(args);
        var raised = outs.Select(o => (Tracer)TraceStack.FullRaise(trace, o)).ToArray();
        return builder.Build(args, raised);
    }
}
