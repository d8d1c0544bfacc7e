namespace Jx;

/// <summary>A higher-order call with rules of its own under some transforms (custom_jvp, custom_vjp, checkpoint).
/// Jx.Core knows only how to call it; a transform that has a special rule overrides
/// <see cref="Trace.ProcessCustomCall"/>, and every other trace simply runs <see cref="Call"/> on its tracers.</summary>
public abstract class CustomCall
{
    public abstract string Name { get; }

    /// <summary>The plain function: what the call computes under traces without a special rule.</summary>
    public abstract Tensor[] Call(Tensor[] args);

    /// <summary>Applies the call under the innermost trace that owns an argument.</summary>
    public Tensor[] Bind(Tensor[] args)
    {
        if (TraceStack.IsEager)
        {
            foreach (var a in args)
                if (a is Tracer t) throw TraceStack.Escaped(t, null);
            return Call(args);
        }
        var trace = TraceStack.FindTopTrace(args, null);
        var tracers = args.Select(a => TraceStack.FullRaise(trace, a)).ToArray();
        var outs = trace.ProcessCustomCall(this, tracers);
        return outs.Select(TraceStack.FullLower).ToArray();
    }
}

/// <summary>A function with a custom JVP rule (jax.custom_jvp): under forward or reverse differentiation the rule
/// gives the output tangents; every other transform runs the function itself.</summary>
/// <example><code>
/// var relu = new CustomJvpCall("relu", xs => [Np.Maximum(xs[0], 0f)],
///     (xs, ts) => ([Np.Maximum(xs[0], 0f)], [Np.Where(xs[0] > 0f, ts[0], Np.ZerosLike(ts[0]))]));
/// var y = relu.Bind([x])[0];
/// </code></example>
public sealed class CustomJvpCall(string name, Func<Tensor[], Tensor[]> fun, Func<Tensor[], Tensor[], (Tensor[] Outputs, Tensor[] Tangents)> jvp) : CustomCall
{
    public override string Name { get; } = name;
    public Func<Tensor[], Tensor[]> Fun { get; } = fun;
    /// <summary>(primals, tangents) → (outputs, output tangents). Tangents of non-float inputs are zeros.</summary>
    public Func<Tensor[], Tensor[], (Tensor[] Outputs, Tensor[] Tangents)> Jvp { get; } = jvp;
    public override Tensor[] Call(Tensor[] args) => Fun(args);
}
