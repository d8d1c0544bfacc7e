namespace Jx;

/// <summary>Control-flow primitives with sub-jaxprs: cond (also Switch), while and scan. Sub-jaxprs take their captured
/// constants as explicit leading inputs, so every transform sees them. Eager kernels run the bodies through
/// <see cref="BodyRunner"/> (the jaxpr interpreter, or compiled code once Jx.Jit is loaded).</summary>
[PrimitiveFamily]
public static class ControlFlow
{
    /// <summary>How bodies are executed by the eager kernels; Jx.Jit replaces it with a compiling runner.</summary>
    public static Func<ClosedJaxpr, Func<Tensor[], Tensor[]>> BodyRunner { get; set; } = j => j.Call;

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ClosedJaxpr, Func<Tensor[], Tensor[]>> Runners = new();
    /// <summary>True while a compiled program runs on this thread: only then are bodies compiled (eager loops interpret).</summary>
    [ThreadStatic] public static bool InCompiledProgram;

    internal static Func<Tensor[], Tensor[]> Runner(ClosedJaxpr j) => InCompiledProgram ? Runners.GetValue(j, k => BodyRunner(k)) : j.Call;

    internal static ClosedJaxpr[] Branches(Params p) => p.Get<ParamList>("branches").Select(b => (ClosedJaxpr)b!).ToArray();

    private static string Types(IEnumerable<Aval> avals) => "(" + string.Join(", ", avals) + ")";

    /// <summary>cond(index, operands...)[branches]: runs branches[clamp(index)] on the operands.</summary>
    public static readonly Primitive Cond = new("cond", "control",
        (ins, p) =>
        {
            var branches = Branches(p);
            if (ins.Length < 1 || ins[0].Rank != 0 || !ins[0].DType.IsInteger())
                throw new DTypeError($"cond's index must be an integer scalar, got {(ins.Length == 0 ? "nothing" : ins[0].ToString())}");
            var ops = ins[1..];
            for (int b = 0; b < branches.Length; b++)
            {
                var bin = branches[b].InAvals;
                if (bin.Length != ops.Length || bin.Zip(ops).Any(q => q.First.Shape != q.Second.Shape || q.First.DType != q.Second.DType))
                    throw new ShapeError($"cond branch {b} takes {Types(bin)} but got operands {Types(ops)}");
            }
            var outs = branches[0].OutAvals;
            for (int b = 1; b < branches.Length; b++)
            {
                var ob = branches[b].OutAvals;
                if (ob.Length != outs.Length || ob.Zip(outs).Any(q => q.First.Shape != q.Second.Shape || q.First.DType != q.Second.DType))
                    throw new TypeMismatchError($"branches of cond must return the same types: branch 0 returns {Types(outs)} but branch {b} returns {Types(ob)}");
            }
            return outs.Select(a => a.Strong).ToArray();
        },
        (xs, p, o) =>
        {
            var branches = Branches(p);
            long idx = (long)xs[0].Buffer!.GetDouble(0);
            int i = (int)Math.Clamp(idx, 0, branches.Length - 1);
            return Runner(branches[i])(xs[1..]);
        },
        multipleResults: true);

    /// <summary>while(cond_consts..., body_consts..., carry...)[cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts].</summary>
    public static readonly Primitive While = new("while", "control",
        (ins, p) =>
        {
            var cj = p.Get<ClosedJaxpr>("cond_jaxpr");
            var bj = p.Get<ClosedJaxpr>("body_jaxpr");
            int nc = p.Int("cond_nconsts"), nb = p.Int("body_nconsts");
            var carry = ins[(nc + nb)..];
            var cout = cj.OutAvals;
            if (cout.Length != 1 || cout[0].DType != DType.Bool || cout[0].Rank != 0)
                throw new TypeMismatchError($"while_loop's cond function must return a boolean scalar, got {Types(cout)}");
            var bout = bj.OutAvals;
            if (bout.Length != carry.Length || bout.Zip(carry).Any(q => q.First.Shape != q.Second.Shape || q.First.DType != q.Second.DType))
                throw new TypeMismatchError($"while_loop's body function must return a carry of the same types as its input: input carry {Types(carry)}, body output {Types(bout)}");
            return carry.Select(a => a.Strong).ToArray();
        },
        (xs, p, o) =>
        {
            var cond = Runner(p.Get<ClosedJaxpr>("cond_jaxpr"));
            var body = Runner(p.Get<ClosedJaxpr>("body_jaxpr"));
            int nc = p.Int("cond_nconsts"), nb = p.Int("body_nconsts");
            var cc = xs[..nc];
            var bc = xs[nc..(nc + nb)];
            var carry = xs[(nc + nb)..];
            while (cond([.. cc, .. carry])[0].Buffer!.GetDouble(0) != 0)
                carry = body([.. bc, .. carry]);
            return carry;
        },
        multipleResults: true);

    /// <summary>scan(consts..., carry..., xs...)[jaxpr, num_consts, num_carry, length, reverse]: body (consts, carry, x) →
    /// (carry, y); the ys are stacked along a new leading axis.</summary>
    public static readonly Primitive Scan = new("scan", "control",
        (ins, p) =>
        {
            var j = p.Get<ClosedJaxpr>("jaxpr");
            int nConsts = p.Int("num_consts"), nCarry = p.Int("num_carry"), length = p.Int("length");
            var carry = ins[nConsts..(nConsts + nCarry)];
            var xs = ins[(nConsts + nCarry)..];
            if (p.Has("unroll") && p.Int("unroll") < 1)
                throw new InvalidArgumentError($"scan's unroll must be a bool or a positive int, got {p.Int("unroll")}");
            foreach (var x in xs)
                if (x.Rank == 0 || x.Shape[0] != length)
                    throw new ShapeError($"scan got xs with leading axis sizes {string.Join(", ", xs.Select(t => t.Rank == 0 ? "scalar" : t.Shape[0].ToString()))} but length {length}; every xs leaf must have the same leading length");
            var outs = j.OutAvals;
            var cout = outs[..nCarry];
            if (cout.Length != carry.Length || cout.Zip(carry).Any(q => q.First.Shape != q.Second.Shape || q.First.DType != q.Second.DType))
                throw new TypeMismatchError($"scan body function carry input and carry output must have equal types: input carry {Types(carry)}, output carry {Types(cout)}");
            var ys = outs[nCarry..].Select(a => a.Strong with { Shape = new Shape([length, .. a.Shape]) });
            return carry.Select(a => a.Strong).Concat(ys).ToArray();
        },
        (xs, p, o) =>
        {
            var body = Runner(p.Get<ClosedJaxpr>("jaxpr"));
            int nConsts = p.Int("num_consts"), nCarry = p.Int("num_carry"), length = p.Int("length");
            bool reverse = p.Bool("reverse");
            var consts = xs[..nConsts];
            var carry = xs[nConsts..(nConsts + nCarry)];
            var seqs = xs[(nConsts + nCarry)..];
            int nys = o.Length - nCarry;
            var ys = new Tensor[nys][];
            for (int k = 0; k < nys; k++) ys[k] = new Tensor[length];
            for (int step = 0; step < length; step++)
            {
                int i = reverse ? length - 1 - step : step;
                var x = seqs.Select(s => Index0(s, i)).ToArray();
                var r = body([.. consts, .. carry, .. x]);
                carry = r[..nCarry];
                for (int k = 0; k < nys; k++) ys[k][i] = r[nCarry + k];
            }
            var stacked = ys.Select((y, k) => length == 0 ? Np.Zeros(o[nCarry + k].Shape, o[nCarry + k].DType) : Np.Stack(y, 0)).ToArray();
            return [.. carry, .. stacked];
        },
        multipleResults: true);

    /// <summary>Row i of x along axis 0.</summary>
    internal static Tensor Index0(Tensor x, int i)
    {
        var start = new int[x.Rank];
        var limit = x.Shape.ToArray();
        start[0] = i; limit[0] = i + 1;
        return Lax.Squeeze(Lax.Slice(x, start, limit), [0]);
    }
}

/// <summary>Branches or loop bodies whose input and output types disagree.</summary>
public class TypeMismatchError(string message) : JxException(message);

/// <summary>Tracing helpers for control flow: functions become closed jaxprs whose constants are explicit inputs.</summary>
public static class Staging
{
    /// <summary>Traces a flat function on the given avals; captured values become leading inputs (returned as Consts).</summary>
    public static (ClosedJaxpr Jaxpr, Tensor[] Consts) TraceConverted(Func<Tensor[], Tensor[]> f, Aval[] inAvals, string name)
    {
        var closed = StagingTrace.TraceToJaxpr(f, inAvals, name);
        return ConvertConstvars(closed);
    }

    /// <summary>Turns a closed jaxpr's constants into leading input variables (JAX's convert_constvars_jaxpr).</summary>
    public static (ClosedJaxpr Jaxpr, Tensor[] Consts) ConvertConstvars(ClosedJaxpr closed)
    {
        var j = closed.Jaxpr;
        var converted = new Jaxpr([], [.. j.ConstVars, .. j.InVars], j.Eqns.ToArray(), j.OutVars.ToArray());
        return (new ClosedJaxpr(converted, []), closed.Consts.ToArray());
    }

    /// <summary>Binds cond over flat branch functions of the same operands: each is traced, their captured constants are
    /// passed as inputs (each branch ignores the others'), and the result is the chosen branch's outputs.</summary>
    public static Tensor[] BindCond(Tensor index, Func<Tensor[], Tensor[]>[] branches, Tensor[] operands)
    {
        var avals = operands.Select(o => o.Aval.Strong).ToArray();
        var traced = branches.Select(b => TraceConverted(b, avals, "cond")).ToList();
        var allConsts = traced.SelectMany(t => t.Consts).ToArray();
        var fullAvals = allConsts.Select(c => c.Aval.Strong).Concat(avals).ToArray();
        var js = new List<object?>();
        int offset = 0;
        foreach (var (j, consts) in traced)
        {
            var positions = Enumerable.Range(offset, consts.Length).Concat(Enumerable.Range(allConsts.Length, avals.Length)).ToArray();
            js.Add(Rearrange(j, fullAvals, positions));
            offset += consts.Length;
        }
        return ControlFlow.Cond.Bind([Lax.ConvertElementType(index, DType.Int32), .. allConsts, .. operands], Params.Of(("branches", new ParamList(js.ToArray()))));
    }

    /// <summary>Binds scan over a flat body (consts, carry, x) → (carry, y); captured values join the constants.
    /// <paramref name="unroll"/> is the original scan's (a rule's new scan keeps it).</summary>
    public static Tensor[] BindScan(Func<Tensor[], Tensor[]> body, Tensor[] consts, Tensor[] carry, Tensor[] xs, int length, bool reverse, int unroll = 1)
    {
        var avals = consts.Concat(carry).Select(c => c.Aval.Strong).Concat(xs.Select(x => x.Aval.Strong with { Shape = new Shape(x.Shape.Skip(1).ToArray()) })).ToArray();
        var (j, captured) = TraceConverted(body, avals, "scan");
        return ControlFlow.Scan.Bind([.. captured, .. consts, .. carry, .. xs],
            Params.Of(("jaxpr", j), ("num_consts", captured.Length + consts.Length), ("num_carry", carry.Length), ("length", length), ("reverse", reverse), ("unroll", unroll)));
    }

    /// <summary>A jaxpr over a wider input list: original input k sits at position <paramref name="positions"/>[k]; the
    /// other positions are inputs it ignores (so branches with different constants share one signature).</summary>
    public static ClosedJaxpr Rearrange(ClosedJaxpr j, Aval[] fullAvals, int[] positions)
    {
        var jx = j.Jaxpr;
        var ins = fullAvals.Select(a => new Var(a)).ToArray();
        for (int k = 0; k < positions.Length; k++) ins[positions[k]] = jx.InVars[k];
        return new ClosedJaxpr(new Jaxpr(jx.ConstVars.ToArray(), ins, jx.Eqns.ToArray(), jx.OutVars.ToArray()), j.Consts.ToArray());
    }
}
