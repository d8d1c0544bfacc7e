using System.Text;

namespace Jx;

/// <summary>An operand of an equation: a <see cref="Var"/> or a <see cref="Literal"/>.</summary>
public abstract class Atom
{
    public abstract Aval Aval { get; }
}

/// <summary>A typed variable of a jaxpr. Identity is by reference; names are given when printing.</summary>
public sealed class Var(Aval aval) : Atom
{
    public override Aval Aval { get; } = aval;
}

/// <summary>A scalar constant written inline in a jaxpr, as JAX prints <c>2.0:f32[]</c>.</summary>
public sealed class Literal : Atom
{
    public Tensor Value { get; }
    public override Aval Aval => Value.Aval;
    public Literal(Tensor value)
    {
        if (!value.IsConcrete || value.Rank != 0) throw new InvalidArgumentError("a jaxpr literal must be a concrete scalar");
        Value = value;
    }

    /// <summary>As JAX prints it: the value as NumPy prints the scalar, then the type (<c>2.0:f32[]</c>, <c>1:i32[]</c>,
    /// <c>True:bool[]</c>, <c>nan:f32[]</c>, <c>1e+20:f32[]</c>).</summary>
    public override string ToString() => $"{TensorFormatter.FormatScalar(Value.DType, Value.Buffer!)}:{Aval}";

    internal bool SameValue(Literal o) => o.Aval == Aval && o.Value.Buffer!.GetDouble(0).Equals(Value.Buffer!.GetDouble(0));
}

/// <summary>One equation: <c>outs = primitive[params] inputs</c>.</summary>
public sealed class Eqn(Primitive primitive, Atom[] inputs, Params parameters, Var[] outputs)
{
    public Primitive Primitive { get; } = primitive;
    public IReadOnlyList<Atom> Inputs { get; } = inputs;
    public Params Params { get; } = parameters;
    public IReadOnlyList<Var> Outputs { get; } = outputs;
}

/// <summary>The IR: constant variables, input variables, equations and outputs, printed like JAX's jaxpr.</summary>
/// <example><code>
/// var jaxpr = Jax.MakeJaxpr((Tensor x) => Np.Sin(x) * 2)(Np.Ones([3]));
/// Console.WriteLine(jaxpr); // { lambda ; a:f32[3]. let b:f32[3] = sin a; c:f32[3] = mul b 2.0:f32[] in (c,) }
/// </code></example>
public sealed class Jaxpr : IEquatable<Jaxpr>
{
    public IReadOnlyList<Var> ConstVars { get; }
    public IReadOnlyList<Var> InVars { get; }
    public IReadOnlyList<Eqn> Eqns { get; }
    public IReadOnlyList<Atom> OutVars { get; }
    private int? _hash;

    public Jaxpr(Var[] constVars, Var[] inVars, Eqn[] eqns, Atom[] outVars)
    {
        ConstVars = constVars;
        InVars = inVars;
        Eqns = eqns;
        OutVars = outVars;
    }

    private Aval[]? _inAvals, _outAvals;
    /// <summary>The input avals (computed once; do not modify the returned array).</summary>
    public Aval[] InAvals => _inAvals ??= InVars.Select(v => v.Aval).ToArray();
    /// <summary>The output avals (computed once; do not modify the returned array).</summary>
    public Aval[] OutAvals => _outAvals ??= OutVars.Select(v => v.Aval).ToArray();

    public override string ToString() => JaxprPrinter.Print(this);

    /// <summary>Alpha-equivalence: the same equations up to renaming of variables.</summary>
    public bool Equals(Jaxpr? other)
    {
        if (other is null) return false;
        if (ReferenceEquals(this, other)) return true;
        if (GetHashCode() != other.GetHashCode()) return false;
        if (ConstVars.Count != other.ConstVars.Count || InVars.Count != other.InVars.Count || Eqns.Count != other.Eqns.Count || OutVars.Count != other.OutVars.Count)
            return false;
        var map = new Dictionary<Var, Var>(ReferenceEqualityComparer.Instance);
        bool Bind(IReadOnlyList<Var> a, IReadOnlyList<Var> b)
        {
            for (int i = 0; i < a.Count; i++)
            {
                if (a[i].Aval != b[i].Aval) return false;
                map[a[i]] = b[i];
            }
            return true;
        }
        bool Same(Atom a, Atom b) => (a, b) switch
        {
            (Var va, Var vb) => map.TryGetValue(va, out var m) && ReferenceEquals(m, vb),
            (Literal la, Literal lb) => la.SameValue(lb),
            _ => false,
        };
        if (!Bind(ConstVars, other.ConstVars) || !Bind(InVars, other.InVars)) return false;
        for (int i = 0; i < Eqns.Count; i++)
        {
            var (e, f) = (Eqns[i], other.Eqns[i]);
            if (e.Primitive != f.Primitive || !e.Params.Equals(f.Params) || e.Inputs.Count != f.Inputs.Count || e.Outputs.Count != f.Outputs.Count) return false;
            for (int j = 0; j < e.Inputs.Count; j++) if (!Same(e.Inputs[j], f.Inputs[j])) return false;
            if (!Bind(e.Outputs, f.Outputs)) return false;
        }
        for (int i = 0; i < OutVars.Count; i++) if (!Same(OutVars[i], other.OutVars[i])) return false;
        return true;
    }

    public override bool Equals(object? obj) => obj is Jaxpr j && Equals(j);

    public override int GetHashCode()
    {
        if (_hash is int h0) return h0;
        var h = new HashCode();
        foreach (var v in ConstVars) h.Add(v.Aval);
        foreach (var v in InVars) h.Add(v.Aval);
        foreach (var e in Eqns) { h.Add(e.Primitive.Name); h.Add(e.Params); h.Add(e.Inputs.Count); }
        foreach (var o in OutVars) h.Add(o.Aval);
        _hash = h.ToHashCode();
        return _hash.Value;
    }
}

/// <summary>A jaxpr together with the values of its constant variables.</summary>
public sealed class ClosedJaxpr(Jaxpr jaxpr, Tensor[] consts) : IEquatable<ClosedJaxpr>
{
    public Jaxpr Jaxpr { get; } = jaxpr;
    public IReadOnlyList<Tensor> Consts { get; } = consts;
    public Aval[] InAvals => Jaxpr.InAvals;
    public Aval[] OutAvals => Jaxpr.OutAvals;

    /// <summary>Runs the jaxpr on the given inputs under the current traces (eagerly when none is active).</summary>
    public Tensor[] Call(params Tensor[] args) => JaxprEval.Eval(Jaxpr, Consts.ToArray(), args);

    public override string ToString() => Jaxpr.ToString();
    public bool Equals(ClosedJaxpr? other) => other is not null && Jaxpr.Equals(other.Jaxpr) && Consts.Count == other.Consts.Count && Consts.Zip(other.Consts).All(p => ReferenceEquals(p.First, p.Second));
    public override bool Equals(object? obj) => obj is ClosedJaxpr c && Equals(c);
    public override int GetHashCode() => Jaxpr.GetHashCode();
}

/// <summary>Evaluates a jaxpr by binding each equation's primitive, so it runs eagerly or under any transform.</summary>
public static class JaxprEval
{
    public static Tensor[] Eval(Jaxpr jaxpr, Tensor[] consts, Tensor[] args)
    {
        if (args.Length != jaxpr.InVars.Count)
            throw new InvalidArgumentError($"the jaxpr takes {jaxpr.InVars.Count} inputs, got {args.Length}");
        if (consts.Length != jaxpr.ConstVars.Count)
            throw new InvalidArgumentError($"the jaxpr has {jaxpr.ConstVars.Count} constants, got {consts.Length}");
        var env = new Dictionary<Var, Tensor>(ReferenceEqualityComparer.Instance);
        for (int i = 0; i < consts.Length; i++) env[jaxpr.ConstVars[i]] = consts[i];
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i].Shape != jaxpr.InVars[i].Aval.Shape || args[i].DType != jaxpr.InVars[i].Aval.DType)
                throw new ShapeError($"jaxpr input {i} expects {jaxpr.InVars[i].Aval}, got {args[i].Aval}");
            env[jaxpr.InVars[i]] = args[i];
        }
        Tensor Read(Atom a) => a is Literal l ? l.Value : env[(Var)a];
        foreach (var e in jaxpr.Eqns)
        {
            var ins = e.Inputs.Select(Read).ToArray();
            var outs = e.Primitive.Bind(ins, e.Params);
            for (int i = 0; i < outs.Length; i++) env[e.Outputs[i]] = outs[i];
        }
        return jaxpr.OutVars.Select(Read).ToArray();
    }
}

/// <summary>Prints jaxprs in JAX's text form, naming variables a, b, ..., z, ba, bb, ...</summary>
internal static class JaxprPrinter
{
    public static string Print(Jaxpr j, int indent = 0)
    {
        var names = new Dictionary<Var, string>(ReferenceEqualityComparer.Instance);
        int counter = 0;
        string Name(Var v)
        {
            if (!names.TryGetValue(v, out var n)) { n = Encode(counter++); names[v] = n; }
            return n;
        }
        string Atom(Atom a) => a is Literal l ? l.ToString() : Name((Var)a);
        string Decl(Var v) => $"{Name(v)}:{v.Aval}";

        var consts = string.Join(" ", j.ConstVars.Select(Decl));
        var ins = string.Join(" ", j.InVars.Select(Decl));
        var eqns = new List<string>();
        foreach (var e in j.Eqns)
        {
            var rhs = new StringBuilder(e.Primitive.Name);
            if (e.Params.Count > 0)
            {
                // Sorted by name, as JAX prints params.
                var parts = e.Params.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Value switch
                {
                    ClosedJaxpr cj => $"{kv.Key}={Print(cj.Jaxpr, indent + 4)}",
                    Jaxpr sub => $"{kv.Key}={Print(sub, indent + 4)}",
                    var v => $"{kv.Key}={Params.Format(v)}",
                });
                rhs.Append('[').Append(string.Join(" ", parts)).Append(']');
            }
            foreach (var a in e.Inputs) rhs.Append(' ').Append(Atom(a));
            var lhs = e.Outputs.Count == 0 ? "_" : string.Join(" ", e.Outputs.Select(Decl));
            eqns.Add($"{lhs} = {rhs}");
        }
        var outs = "(" + string.Join(", ", j.OutVars.Select(Atom)) + (j.OutVars.Count == 1 ? ",)" : ")");
        var head = $"{{ lambda {consts}; {ins}. let";
        // JAX's layout: "let", a break, the equations joined by "; " breaks, a break, "in"; all on one line when that
        // fits in 80 columns (the closing " }" aside), else one equation per line.
        var oneLine = eqns.Count == 0 ? $"{head}  in {outs} }}" : $"{head} {string.Join("; ", eqns)} in {outs} }}";
        if (oneLine.Length - 2 <= 80 - indent && !oneLine.Contains('\n')) return oneLine;
        var pad = new string(' ', indent);
        var sb = new StringBuilder(head).Append('\n');
        foreach (var e in eqns) sb.Append(pad).Append("    ").Append(e).Append('\n');
        sb.Append(pad).Append("  in ").Append(outs).Append(" }");
        return sb.ToString();
    }

    internal static string Encode(int n)
    {
        var s = new StringBuilder();
        do { s.Insert(0, (char)('a' + n % 26)); n /= 26; } while (n > 0);
        return s.ToString();
    }
}
