namespace Jx;

/// <summary>A tracer of forward-mode differentiation: a primal value and its tangent (null is a symbolic zero).</summary>
public sealed class JvpTracer : Tracer
{
    private readonly JvpTrace _trace;
    public Tensor Primal { get; }
    /// <summary>The tangent, or null for a symbolic zero (never materialized).</summary>
    public Tensor? Tangent { get; }

    internal JvpTracer(JvpTrace trace, Tensor primal, Tensor? tangent)
    {
        _trace = trace;
        Primal = primal;
        Tangent = tangent;
    }

    public override Trace Trace => _trace;
    public override Aval Aval => Primal.Aval;
    public override Tensor FullLower() => Tangent is null ? TraceStack.FullLower(Primal) : this;
    public override Tensor? ToConcrete() => Primal is Tracer t ? t.ToConcrete() : Primal;
}

/// <summary>The forward-mode interpreter: each primitive applies its JVP rule to (primals, tangents).</summary>
public sealed class JvpTrace : Trace
{
    internal JvpTrace(MainTrace main) : base(main) { }

    public override Tensor Pure(Tensor value) => new JvpTracer(this, value, null);
    public override Tensor Lift(Tensor value) => new JvpTracer(this, value, null);

    public override Tensor[] ProcessPrimitive(Primitive primitive, Tensor[] tracers, Params parameters)
    {
        var primals = new Tensor[tracers.Length];
        var tangents = new Tensor?[tracers.Length];
        bool any = false;
        for (int i = 0; i < tracers.Length; i++)
        {
            var t = (JvpTracer)tracers[i];
            primals[i] = t.Primal;
            tangents[i] = t.Tangent;
            any |= t.Tangent is not null;
        }
        if (!any)
            return primitive.Bind(primals, parameters).Select(p => (Tensor)new JvpTracer(this, p, null)).ToArray();
        var (outs, outTangents) = Ad.ApplyJvp(primitive, primals, tangents, parameters);
        var r = new Tensor[outs.Length];
        for (int i = 0; i < outs.Length; i++) r[i] = new JvpTracer(this, outs[i], outTangents[i]);
        return r;
    }

    public override Tensor[] ProcessCustomCall(CustomCall call, Tensor[] tracers)
    {
        var primals = tracers.Select(t => ((JvpTracer)t).Primal).ToArray();
        var tangents = tracers.Select(t => ((JvpTracer)t).Tangent).ToArray();
        if (tangents.All(t => t is null))
            return call.Bind(primals).Select(p => (Tensor)new JvpTracer(this, p, null)).ToArray();
        var (outs, outTangents) = call switch
        {
            CustomJvpCall cj => ApplyCustomJvp(cj, primals, tangents),
            ICustomDifferentiable cd => cd.Jvp(primals, tangents),
            _ => throw new InvalidOperationException($"custom call '{call.Name}' has no differentiation rule"),
        };
        return outs.Select((o, i) => (Tensor)new JvpTracer(this, o, outTangents[i])).ToArray();
    }

    private static (Tensor[], Tensor?[]) ApplyCustomJvp(CustomJvpCall cj, Tensor[] primals, Tensor?[] tangents)
    {
        var inst = tangents.Select((t, i) => t ?? Ad.ZerosLikeTangent(primals[i])).ToArray();
        var (outs, outT) = cj.Jvp(primals, inst);
        if (outs.Length != outT.Length)
            throw new InvalidArgumentError($"custom JVP rule of '{cj.Name}' returned {outs.Length} outputs but {outT.Length} tangents");
        for (int i = 0; i < outs.Length; i++)
            if (outs[i].Shape != outT[i].Shape)
                throw new ShapeError($"custom JVP rule of '{cj.Name}': output {i} has shape {outs[i].Shape} but its tangent has shape {outT[i].Shape}");
        return (outs, outT.Select(t => (Tensor?)t).ToArray());
    }
}

/// <summary>A custom call that defines its own forward-mode rule (custom_vjp, checkpoint).</summary>
internal interface ICustomDifferentiable
{
    (Tensor[] Outputs, Tensor?[] Tangents) Jvp(Tensor[] primals, Tensor?[] tangents);
}
