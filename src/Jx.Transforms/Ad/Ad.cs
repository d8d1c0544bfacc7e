namespace Jx;

/// <summary>A JVP rule: (primals, tangents with null for symbolic zeros, params) → (outputs, output tangents).</summary>
public delegate (Tensor[] Outputs, Tensor?[] Tangents) JvpRule(Tensor[] primals, Tensor?[] tangents, Params parameters);

/// <summary>A transpose rule of a linear primitive: output cotangents and inputs (linear ones undefined) → input
/// cotangents (null where an input is not linear or gets no cotangent).</summary>
public delegate Tensor?[] TransposeRule(Tensor[] cotangents, LinearInput[] inputs, Params parameters);

/// <summary>An input of an equation being transposed: either linear (its value is what we solve for; only its aval is
/// known) or a known constant (a residual).</summary>
public sealed class LinearInput
{
    public bool IsLinear { get; }
    public Aval Aval { get; }
    private readonly Tensor? _value;
    private LinearInput(bool linear, Aval aval, Tensor? value) { IsLinear = linear; Aval = aval; _value = value; }
    public static LinearInput Undefined(Aval aval) => new(true, aval, null);
    public static LinearInput Known(Tensor value) => new(false, value.Aval, value);
    /// <summary>The constant's value (throws for a linear input).</summary>
    public Tensor Value => _value ?? throw new InvalidOperationException("a linear input has no value during transposition");
    public Shape Shape => Aval.Shape;
}

/// <summary>The registry of differentiation rules: a JVP rule for every differentiable primitive, a declared reason for
/// every primitive that is not differentiable (its tangents are symbolic zeros), and a transpose rule for every
/// linear primitive. The registry test checks that no primitive of Jx.Core lacks one.</summary>
public static class Ad
{
    internal static readonly Dictionary<Primitive, JvpRule> JvpRules = [];
    internal static readonly Dictionary<Primitive, string> NonDifferentiableRules = [];
    internal static readonly Dictionary<Primitive, TransposeRule> TransposeRules = [];

    public static IReadOnlyDictionary<Primitive, JvpRule> Jvps { get { RuleLoader.EnsureLoaded(); return JvpRules; } }
    public static IReadOnlyDictionary<Primitive, string> NonDifferentiable { get { RuleLoader.EnsureLoaded(); return NonDifferentiableRules; } }
    public static IReadOnlyDictionary<Primitive, TransposeRule> Transposes { get { RuleLoader.EnsureLoaded(); return TransposeRules; } }

    public static void DefJvp(Primitive p, JvpRule rule) => JvpRules[p] = rule;
    public static void DefTranspose(Primitive p, TransposeRule rule) => TransposeRules[p] = rule;
    /// <summary>Declares a primitive not differentiable: its output tangents are symbolic zeros.</summary>
    public static void DefNonDifferentiable(Primitive p, string reason) => NonDifferentiableRules[p] = reason;

    /// <summary>JAX's defjvp: one partial per input, each mapping (tangent, output, primals) to that input's contribution
    /// to the output tangent; null partials mark inputs the output does not depend on differentiably.</summary>
    public static void DefJvpPartials(Primitive p, params Func<Tensor, Tensor, Tensor[], Params, Tensor>?[] partials) =>
        JvpRules[p] = (primals, tangents, ps) =>
        {
            var ans = p.Bind1(primals, ps);
            Tensor? acc = null;
            for (int i = 0; i < primals.Length; i++)
            {
                if (tangents[i] is not Tensor g || partials[i] is not { } partial) continue;
                var contrib = partial(g, ans, primals, ps);
                acc = acc is null ? contrib : Lax.Add(acc, contrib);
            }
            return ([ans], [acc]);
        };

    /// <summary>A primitive linear in all its inputs: the tangent is the primitive applied to the tangents (zeros instantiated).</summary>
    public static void DefLinear(Primitive p, TransposeRule transpose)
    {
        JvpRules[p] = (primals, tangents, ps) =>
        {
            var outs = p.Bind(primals, ps);
            var ts = tangents.Select((t, i) => t ?? ZerosLikeTangent(primals[i])).ToArray();
            return (outs, p.Bind(ts, ps).Select(t => (Tensor?)t).ToArray());
        };
        TransposeRules[p] = transpose;
    }

    /// <summary>A primitive linear in each of two inputs separately (mul, dot_general, conv): t = p(ta, b) + p(a, tb).</summary>
    public static void DefBilinear(Primitive p, TransposeRule transpose)
    {
        JvpRules[p] = (primals, tangents, ps) =>
        {
            var ans = p.Bind1(primals, ps);
            Tensor? t = null;
            if (tangents[0] is Tensor ta) t = p.Bind1([ta, primals[1]], ps);
            if (tangents[1] is Tensor tb) { var u = p.Bind1([primals[0], tb], ps); t = t is null ? u : Lax.Add(t, u); }
            return ([ans], [t]);
        };
        TransposeRules[p] = transpose;
    }

    /// <summary>Applies a primitive's JVP rule, or raises a clear error when it has none.</summary>
    internal static (Tensor[], Tensor?[]) ApplyJvp(Primitive p, Tensor[] primals, Tensor?[] tangents, Params ps)
    {
        RuleLoader.EnsureLoaded();
        if (JvpRules.TryGetValue(p, out var rule))
        {
            var (o, t) = rule(primals, tangents, ps);
            for (int i = 0; i < t.Length; i++)
                if (t[i] is Tensor ti && (ti.Shape != o[i].Shape))
                    throw new InvalidOperationException($"JVP rule of '{p.Name}' produced a tangent {ti.Aval} for output {o[i].Aval}");
            return (o, t);
        }
        if (NonDifferentiableRules.ContainsKey(p))
        {
            var outs = p.Bind(primals, ps);
            return (outs, new Tensor?[outs.Length]);
        }
        throw new NotDifferentiableError($"Differentiation rule for '{p.Name}' not implemented.");
    }

    /// <summary>A zero tangent of the primal's type (a materialized zero; symbolic zeros are null).</summary>
    public static Tensor ZerosLikeTangent(Tensor primal) => Np.ZerosLike(primal);

    /// <summary>Sums cotangent contributions, matching dtypes.</summary>
    internal static Tensor AddCotangents(Tensor a, Tensor b)
    {
        if (a.DType != b.DType) b = Lax.ConvertElementType(b, a.DType);
        return Lax.Add(a, b);
    }
}

/// <summary>Differentiation of a primitive or function that has no rule.</summary>
public class NotDifferentiableError(string message) : JxException(message);

/// <summary>Loads every rule family of Jx.Transforms once.</summary>
internal static class RuleLoader
{
    private static bool _loaded;
    private static readonly object Lock = new();

    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Lock)
        {
            if (_loaded) return;
            ElementwiseRules.Register();
            ShapeRules.Register();
            ReductionRules.Register();
            IndexingRules.Register();
            LinalgRules.Register();
            MiscRules.Register();
            SortingRules.Register();
            Pjit.RegisterRules();
            ConvolutionRules.Register();
            ControlFlowRules.Register();
            BatchingRules.Register();
            _loaded = true;
        }
    }
}

/// <summary>Forward mode over flat lists: used by the public Jvp and by rules defined through compositions.</summary>
internal static class JvpFlat
{
    public static (Tensor[] Outputs, Tensor?[] Tangents) Run(Func<Tensor[], Tensor[]> f, Tensor[] primals, Tensor?[] tangents)
    {
        using var scope = TraceStack.NewMain("jvp", m => new JvpTrace(m));
        var jt = (JvpTrace)scope.Main.Trace;
        var ins = primals.Select((p, i) => (Tensor)new JvpTracer(jt, p, tangents[i])).ToArray();
        var outs = f(ins);
        var o = new Tensor[outs.Length];
        var t = new Tensor?[outs.Length];
        for (int i = 0; i < outs.Length; i++)
        {
            var r = (JvpTracer)TraceStack.FullRaise(jt, outs[i]);
            o[i] = TraceStack.FullLower(r.Primal);
            t[i] = r.Tangent is null ? null : TraceStack.FullLower(r.Tangent);
        }
        return (o, t);
    }

    /// <summary>A JVP rule that differentiates an equivalent composition of primitives (used where a closed form would
    /// mishandle zeros or ties, e.g. cumprod and reduce_prod).</summary>
    public static JvpRule ViaComposite(Primitive p, Func<Tensor[], Params, Tensor[]> composite) => (xs, ts, ps) =>
    {
        var outs = p.Bind(xs, ps);
        var (_, t) = Run(a => composite(a, ps), xs, ts);
        return (outs, t);
    };
}
