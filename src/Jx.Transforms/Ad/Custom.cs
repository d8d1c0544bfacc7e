namespace Jx;

/// <summary>A function with a custom reverse-mode rule (jax.custom_vjp): fwd returns outputs and residuals, bwd maps
/// residuals and output cotangents to input cotangents. Forward mode through it raises, as in JAX.</summary>
public sealed class CustomVjpCall : CustomCall, ICustomDifferentiable
{
    public override string Name { get; }
    public Func<Tensor[], Tensor[]> Fun { get; }
    public Func<Tensor[], (Tensor[] Outputs, Tensor[] Residuals)> Fwd { get; }
    public Func<Tensor[], Tensor[], Tensor[]> Bwd { get; }

    public CustomVjpCall(string name, Func<Tensor[], Tensor[]> fun, Func<Tensor[], (Tensor[], Tensor[])> fwd, Func<Tensor[], Tensor[], Tensor[]> bwd)
    {
        Name = name; Fun = fun; Fwd = fwd; Bwd = bwd;
    }

    public override Tensor[] Call(Tensor[] args) => Fun(args);

    (Tensor[] Outputs, Tensor?[] Tangents) ICustomDifferentiable.Jvp(Tensor[] primals, Tensor?[] tangents)
    {
        var (outs, res) = Fwd(primals);
        var ts = tangents.Select((t, i) => t ?? Ad.ZerosLikeTangent(primals[i])).ToArray();
        var ps = Params.Of(("bwd", new OpaqueParam(this)), ("num_res", res.Length), ("out_avals", new OpaqueParam(outs.Select(o => o.Aval.Strong).ToArray())));
        var touts = CustomRules.CustomLin.Bind([.. res, .. ts], ps);
        return (outs, touts.Select(t => (Tensor?)t).ToArray());
    }
}

/// <summary>A function whose forward pass is recomputed in the backward pass instead of storing its intermediates
/// (jax.checkpoint / remat): only its inputs are kept as residuals.</summary>
public sealed class CheckpointCall(Func<Tensor[], Tensor[]> fun) : CustomCall, ICustomDifferentiable
{
    public override string Name => "checkpoint";
    public Func<Tensor[], Tensor[]> Fun { get; } = fun;
    public override Tensor[] Call(Tensor[] args) => Fun(args);

    (Tensor[] Outputs, Tensor?[] Tangents) ICustomDifferentiable.Jvp(Tensor[] primals, Tensor?[] tangents)
    {
        var outs = Fun(primals);
        var ts = tangents.Select((t, i) => t ?? Ad.ZerosLikeTangent(primals[i])).ToArray();
        var ps = Params.Of(("fun", new OpaqueParam(this)), ("num_primals", primals.Length), ("out_avals", new OpaqueParam(outs.Select(o => o.Aval.Strong).ToArray())));
        var touts = CustomRules.RematLin.Bind([.. primals, .. ts], ps);
        return (outs, touts.Select(t => (Tensor?)t).ToArray());
    }
}

/// <summary>A parameter compared by reference (a function or rule object inside an equation's params).</summary>
public sealed class OpaqueParam(object value)
{
    public object Value { get; } = value;
    public override bool Equals(object? obj) => obj is OpaqueParam o && ReferenceEquals(o.Value, Value);
    public override int GetHashCode() => System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(Value);
    public override string ToString() => Value is CustomCall c ? c.Name : Value.GetType().Name;
}

/// <summary>The linear primitives that custom_vjp and checkpoint leave in linearized programs, with their rules.</summary>
internal static class CustomRules
{
    private static Aval[] OutAvals(Params p) => (Aval[])p.Get<OpaqueParam>("out_avals").Value;

    /// <summary>custom_lin(residuals..., tangents...): the tangent map of a custom_vjp function; only its transpose
    /// (the user's bwd) is defined.</summary>
    public static readonly Primitive CustomLin = new("custom_lin", "custom",
        (ins, p) => OutAvals(p),
        (xs, p, o) => throw new NotDifferentiableError(
            $"can't apply forward-mode autodiff (jvp) to a custom_vjp function ('{((CustomVjpCall)p.Get<OpaqueParam>("bwd").Value).Name}'); use Grad/Vjp, or define a CustomJvp instead"),
        multipleResults: true);

    /// <summary>remat_lin(primals..., tangents...): the tangent map of a checkpointed function, recomputed from its primal
    /// inputs both forward (JVP) and backward (VJP).</summary>
    public static readonly Primitive RematLin = new("remat_lin", "custom",
        (ins, p) => OutAvals(p),
        (xs, p, o) =>
        {
            var call = (CheckpointCall)p.Get<OpaqueParam>("fun").Value;
            int n = p.Int("num_primals");
            var (_, t) = JvpFlat.Run(call.Fun, xs[..n], xs[n..].Select(x => (Tensor?)x).ToArray());
            return t.Select((ti, i) => ti ?? Np.Zeros(o[i].Shape, o[i].DType)).ToArray();
        },
        multipleResults: true);

    /// <summary>checkpoint(consts..., args...)[jaxpr]: a checkpointed function staged inside a control-flow body (JAX's
    /// checkpoint primitive). Tracing a scan, cond or while body into a jaxpr would otherwise inline the function and
    /// lose the checkpoint; kept as an equation, differentiating the loop later still recomputes the function in the
    /// backward pass (its JVP is the function inlined plus a remat_lin of its inputs, so only the inputs become
    /// residuals). Evaluating it runs the jaxpr.</summary>
    public static readonly Primitive Checkpoint = new("checkpoint", "custom",
        (ins, p) => p.Get<ClosedJaxpr>("jaxpr").OutAvals.Select(a => a.Strong).ToArray(),
        (xs, p, o) => p.Get<ClosedJaxpr>("jaxpr").Call(xs),
        multipleResults: true);

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClosedJaxpr, CheckpointCall> CheckpointCalls = new();

    /// <summary>Whether a checkpoint applied to these arguments is being traced into a control-flow body.</summary>
    internal static bool InControlFlowBody(Tensor[] args) =>
        TraceStack.FindTopTrace(args, null) is StagingTrace { Main.Name: "scan" or "cond" or "while_body" or "while_cond" };

    /// <summary>Stages a checkpointed flat function as a <see cref="Checkpoint"/> equation.</summary>
    internal static Tensor[] BindCheckpoint(Func<Tensor[], Tensor[]> f, Tensor[] args)
    {
        var (j, captured) = Staging.TraceConverted(f, args.Select(a => a.Aval.Strong).ToArray(), "checkpoint");
        return Checkpoint.Bind([.. captured, .. args], Params.Of(("jaxpr", j)));
    }

    internal static void Register()
    {
        Ad.DefJvp(Checkpoint, (xs, ts, p) =>
        {
            var call = CheckpointCalls.GetValue(p.Get<ClosedJaxpr>("jaxpr"), j => new CheckpointCall(j.Call));
            return ((ICustomDifferentiable)call).Jvp(xs, ts);
        });
        Batching.Def(Checkpoint, (vals, dims, p, size) =>
        {
            var j = p.Get<ClosedJaxpr>("jaxpr");
            var axis = new BatchAxis(null, size);
            var moved = Batching.AllAt0(vals, dims, size);
            var outs = BindCheckpoint(a => Batching.RunBatched(j.Call, a, a.Select(_ => (int?)0).ToArray(), axis), moved);
            return (outs, outs.Select(_ => (int?)0).ToArray());
        });
        Ad.DefTranspose(CustomLin, (cts, ins, p) =>
        {
            var call = (CustomVjpCall)p.Get<OpaqueParam>("bwd").Value;
            int nres = p.Int("num_res");
            var res = ins[..nres].Select(i => i.Value).ToArray();
            var inCts = call.Bwd(res, cts);
            int nin = ins.Length - nres;
            if (inCts.Length != nin)
                throw new InvalidArgumentError($"custom_vjp '{call.Name}': bwd returned {inCts.Length} cotangents for {nin} inputs");
            for (int i = 0; i < nin; i++)
                if (inCts[i].Shape != ins[nres + i].Shape)
                    throw new ShapeError($"custom_vjp '{call.Name}': bwd cotangent {i} has shape {inCts[i].Shape}, the input has shape {ins[nres + i].Shape}");
            return [.. new Tensor?[nres], .. inCts];
        });
        Ad.DefJvp(CustomLin, (xs, ts, p) => throw new NotDifferentiableError("forward-mode differentiation of a custom_vjp function's linearization is not supported"));
        Ad.DefTranspose(RematLin, (cts, ins, p) =>
        {
            var call = (CheckpointCall)p.Get<OpaqueParam>("fun").Value;
            int n = p.Int("num_primals");
            var primals = ins[..n].Select(i => i.Value).ToArray();
            var diff = primals.Select(x => x.DType.IsFloating()).ToArray();
            var (_, lin) = LinearFunction.Build(call.Fun, primals, diff);
            var inCts = lin.Transpose(cts);
            return [.. new Tensor?[n], .. inCts];
        });
        Batching.Def(CustomLin, (vals, dims, p, size) =>
        {
            var call = (CustomVjpCall)p.Get<OpaqueParam>("bwd").Value;
            int nres = p.Int("num_res");
            var axis = Batching.RuleAxis(size);
            var batched = new CustomVjpCall(call.Name, call.Fun, call.Fwd,
                (res, cts) => Batching.RunBatched(a => call.Bwd(a[..nres], a[nres..]), [.. res, .. cts], [.. res.Select(_ => (int?)0), .. cts.Select(_ => (int?)0)], axis));
            var outAvals = OutAvals(p).Select(a => a with { Shape = new Shape([size, .. a.Shape]) }).ToArray();
            var outs = CustomLin.Bind(Batching.AllAt0(vals, dims, size), p.With("bwd", new OpaqueParam(batched)).With("out_avals", new OpaqueParam(outAvals)));
            return (outs, outs.Select(_ => (int?)0).ToArray());
        });
        Batching.Def(RematLin, (vals, dims, p, size) =>
        {
            var call = (CheckpointCall)p.Get<OpaqueParam>("fun").Value;
            int n = p.Int("num_primals");
            var axis = Batching.RuleAxis(size);
            var batched = new CheckpointCall(xs => Batching.RunBatched(call.Fun, xs, xs.Select(_ => (int?)0).ToArray(), axis));
            var outAvals = OutAvals(p).Select(a => a with { Shape = new Shape([size, .. a.Shape]) }).ToArray();
            var outs = RematLin.Bind(Batching.AllAt0(vals, dims, size), p.With("fun", new OpaqueParam(batched)).With("out_avals", new OpaqueParam(outAvals)));
            return (outs, outs.Select(_ => (int?)0).ToArray());
        });
        Ad.DefJvp(RematLin, (xs, ts, p) =>
        {
            // remat_lin is linear in its tangent inputs and smooth in its primal inputs: differentiate its definition.
            var call = (CheckpointCall)p.Get<OpaqueParam>("fun").Value;
            int n = p.Int("num_primals");
            Tensor[] Def(Tensor[] a)
            {
                var (_, t) = JvpFlat.Run(call.Fun, a[..n], a[n..].Select(x => (Tensor?)x).ToArray());
                return t.Select((ti, i) => ti ?? Np.Zeros(OutAvals(p)[i].Shape, OutAvals(p)[i].DType)).ToArray();
            }
            return JvpFlat.Run(Def, xs, ts);
        });
    }
}
