namespace Jx;

/// <summary>The function transforms: forward and reverse differentiation (Jvp, Vjp, Linearize, Grad, ValueAndGrad,
/// Jacfwd, Jacrev, Hessian), custom rules (CustomJvp, CustomVjp), Checkpoint and StopGradient. Every transform accepts
/// and returns pytrees and composes with every other (Grad(Grad(f)), Jvp of Grad, Jacfwd(Jacrev(f)), ...).
/// Bring them in with <c>using static Jx.Transforms;</c>.</summary>
/// <example><code>
/// using static Jx.Transforms;
/// var df = Grad((Tensor x) => Np.Tanh(x));
/// Console.WriteLine(df(2.0).Item&lt;double&gt;());           // 0.0706508...
/// var d2f = Grad(Grad((Tensor x) => Np.Tanh(x)));             // any depth
/// </code></example>
public static partial class Transforms
{
    // ---------------- forward mode ----------------

    /// <summary>Evaluates f and its directional derivative at primals along tangents (same pytree structure).</summary>
    public static (TOut Out, TOut Tangent) Jvp<TIn, TOut>(Func<TIn, TOut> f, TIn primals, TIn tangents)
    {
        var (pl, pd) = Tree.Flatten(primals);
        var (tl, td) = Tree.Flatten(tangents);
        Tree.CheckSame(pd, td, "Jvp primals and tangents");
        for (int i = 0; i < pl.Count; i++)
            if (pl[i].Shape != tl[i].Shape)
                throw new ShapeError($"Jvp: primal {i} has shape {pl[i].Shape} but its tangent has shape {tl[i].Shape}");
        TreeDef? outDef = null;
        var (o, t) = JvpFlat.Run(xs =>
        {
            var r = f((TIn)Tree.Unflatten(pd, xs)!);
            var (ol, od) = Tree.Flatten(r);
            outDef = od;
            return ol.ToArray();
        }, pl.ToArray(), tl.Select((x, i) => pl[i].DType.IsFloating() ? (Tensor?)Lax.ConvertElementType(x, pl[i].DType) : null).ToArray());
        var tangentsOut = t.Select((ti, i) => ti ?? Np.ZerosLike(o[i])).ToArray();
        return ((TOut)Tree.Unflatten(outDef!, o)!, (TOut)Tree.Unflatten(outDef!, tangentsOut)!);
    }

    /// <summary>f(x) and the derivative along t for a function of one tensor.</summary>
    public static (Tensor Out, Tensor Tangent) Jvp(Func<Tensor, Tensor> f, Tensor x, Tensor t) => Jvp<Tensor, Tensor>(f, x, t);

    /// <summary>f(primals) and its linear map: a function from input tangents to output tangents, evaluated without
    /// re-running f's primal computation.</summary>
    public static (TOut Out, Func<TIn, TOut> Jvp) Linearize<TIn, TOut>(Func<TIn, TOut> f, TIn primals)
    {
        var (outs, outDef, lin, inDef) = LinearizeTree(f, primals, "Linearize");
        return ((TOut)Tree.Unflatten(outDef, outs)!, tangents =>
        {
            var (tl, td) = Tree.Flatten(tangents);
            Tree.CheckSame(inDef, td, "Linearize tangents");
            return (TOut)Tree.Unflatten(outDef, lin.Apply(tl.Select(t => (Tensor?)t).ToArray()))!;
        });
    }

    // ---------------- reverse mode ----------------

    /// <summary>f(primals) and its pullback: output cotangents (same structure as the output) to input cotangents.</summary>
    public static (TOut Out, Func<TOut, TIn> Pullback) Vjp<TIn, TOut>(Func<TIn, TOut> f, TIn primals)
    {
        var (outs, outDef, lin, inDef) = LinearizeTree(f, primals, "Vjp");
        return ((TOut)Tree.Unflatten(outDef, outs)!, cts =>
        {
            var (cl, cd) = Tree.Flatten(cts);
            Tree.CheckSame(outDef, cd, "Vjp cotangents");
            return (TIn)Tree.Unflatten(inDef, lin.Transpose(cl.Select(c => (Tensor?)c).ToArray()))!;
        });
    }

    /// <summary>f(x) and its pullback for a function of one tensor.</summary>
    public static (Tensor Out, Func<Tensor, Tensor> Pullback) Vjp(Func<Tensor, Tensor> f, Tensor x) => Vjp<Tensor, Tensor>(f, x);

    private static (Tensor[] Outs, TreeDef OutDef, LinearFunction Lin, TreeDef InDef) LinearizeTree<TIn, TOut>(Func<TIn, TOut> f, TIn primals, string name)
    {
        var (pl, pd) = Tree.Flatten(primals);
        TreeDef? outDef = null;
        var (outs, lin) = LinearFunction.Build(xs =>
        {
            var r = f((TIn)Tree.Unflatten(pd, xs)!);
            var (ol, od) = Tree.Flatten(r);
            outDef = od;
            return ol.ToArray();
        }, pl.ToArray(), pl.Select(p => p.DType.IsFloating()).ToArray());
        return (outs, outDef!, lin, pd);
    }

    /// <summary>The core of Grad and ValueAndGrad over argument lists: differentiates with respect to the arguments in
    /// <paramref name="argnums"/>, returning the value, the auxiliary data and the gradients in the order asked.</summary>
    internal static (Tensor Value, object? Aux, object?[] Grads) ValueAndGradCore(Func<object?[], object?> f, object?[] args, int[] argnums, bool hasAux, string name)
    {
        if (argnums.Length == 0) throw new InvalidArgumentError($"{name}: argnums must name at least one argument");
        foreach (var a in argnums)
            if (a < 0 || a >= args.Length)
                throw new InvalidArgumentError($"{name}: argnums {string.Join(", ", argnums)} out of range: the function takes {args.Length} argument(s), so argnums must be in 0..{args.Length - 1}");
        if (argnums.Distinct().Count() != argnums.Length) throw new InvalidArgumentError($"{name}: argnums {string.Join(", ", argnums)} has duplicates");
        var flats = argnums.Select(a => Tree.Flatten(args[a])).ToArray();
        foreach (var (leaves, _) in flats)
            foreach (var l in leaves)
                if (!l.DType.IsFloating())
                    throw new DTypeError($"{name} requires real-valued (floating-point) inputs, but got {l.DType.Name()}. " +
                                         "To differentiate with respect to other arguments, choose them with argnums; integer inputs have no gradient (use Vjp for them).");
        var counts = flats.Select(fl => fl.Leaves.Count).ToArray();
        var all = flats.SelectMany(fl => fl.Leaves).ToArray();
        TreeDef? auxDef = null;
        int auxCount = 0;
        var (outs, lin) = LinearFunction.Build(xs =>
        {
            var a2 = (object?[])args.Clone();
            int off = 0;
            for (int k = 0; k < argnums.Length; k++)
            {
                a2[argnums[k]] = Tree.Unflatten(flats[k].Def, xs[off..(off + counts[k])]);
                off += counts[k];
            }
            var r = f(a2);
            Tensor value;
            var extra = new List<Tensor>();
            if (hasAux)
            {
                if (r is not System.Runtime.CompilerServices.ITuple t || t.Length != 2 || t[0] is not Tensor v0)
                    throw new InvalidArgumentError($"{name} with hasAux expects the function to return a (Tensor value, aux) pair");
                value = v0;
                var (al, ad) = Tree.Flatten(t[1]);
                auxDef = ad;
                auxCount = al.Count;
                extra.AddRange(al);
            }
            else value = r as Tensor ?? throw new InvalidArgumentError($"{name} expects the function to return a scalar Tensor, got {r?.GetType().Name ?? "null"}");
            if (value.Rank != 0)
                throw new ShapeError($"Gradient only defined for scalar-output functions. Output had shape: {value.Shape}. Reduce it first (e.g. .Sum() or .Mean()), or use Vjp/Jacrev for non-scalar outputs.");
            if (!value.DType.IsFloating())
                throw new DTypeError($"{name} requires real-valued outputs (a floating-point dtype), but got {value.DType.Name()}.");
            return [value, .. extra];
        }, all, all.Select(_ => true).ToArray());
        var cts = new Tensor?[outs.Length];
        cts[0] = Np.OnesLike(outs[0]);
        var g = lin.Transpose(cts);
        var grads = new object?[argnums.Length];
        int o2 = 0;
        for (int k = 0; k < argnums.Length; k++)
        {
            grads[k] = Tree.Unflatten(flats[k].Def, g[o2..(o2 + counts[k])]);
            o2 += counts[k];
        }
        object? aux = hasAux ? Tree.Unflatten(auxDef!, outs[1..(1 + auxCount)]) : null;
        return (outs[0], aux, grads);
    }

    // ---------------- Grad ----------------

    /// <summary>The gradient of a scalar function of one tensor.</summary>
    public static Func<Tensor, Tensor> Grad(Func<Tensor, Tensor> f) => x => (Tensor)ValueAndGradCore(a => f((Tensor)a[0]!), [x], [0], false, "Grad").Grads[0]!;

    /// <summary>The gradient of a scalar function of a pytree (a record, tuple, list...), of the same type.</summary>
    public static Func<T, T> Grad<T>(Func<T, Tensor> f) => x => (T)ValueAndGradCore(a => f((T)a[0]!), [x], [0], false, "Grad").Grads[0]!;

    /// <summary>The gradient with respect to the first argument.</summary>
    public static Func<T1, T2, T1> Grad<T1, T2>(Func<T1, T2, Tensor> f) =>
        (a, b) => (T1)ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], [0], false, "Grad").Grads[0]!;

    public static Func<T1, T2, T3, T1> Grad<T1, T2, T3>(Func<T1, T2, T3, Tensor> f) =>
        (a, b, c) => (T1)ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!), [a, b, c], [0], false, "Grad").Grads[0]!;

    public static Func<T1, T2, T3, T4, T1> Grad<T1, T2, T3, T4>(Func<T1, T2, T3, T4, Tensor> f) =>
        (a, b, c, d) => (T1)ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!, (T4)x[3]!), [a, b, c, d], [0], false, "Grad").Grads[0]!;

    /// <summary>Gradients with respect to the arguments in <paramref name="argnums"/>, returned in the order asked.</summary>
    /// <example><code>var g = Grad((Tensor w, Tensor b) => (w * b).Sum(), argnums: [1, 0]); var r = g(w, b); // [d/db, d/dw]</code></example>
    public static Func<T1, T2, object?[]> Grad<T1, T2>(Func<T1, T2, Tensor> f, int[] argnums) =>
        (a, b) => ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], argnums, false, "Grad").Grads;

    public static Func<T1, T2, T3, object?[]> Grad<T1, T2, T3>(Func<T1, T2, T3, Tensor> f, int[] argnums) =>
        (a, b, c) => ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!), [a, b, c], argnums, false, "Grad").Grads;

    public static Func<T1, T2, T3, T4, object?[]> Grad<T1, T2, T3, T4>(Func<T1, T2, T3, T4, Tensor> f, int[] argnums) =>
        (a, b, c, d) => ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!, (T4)x[3]!), [a, b, c, d], argnums, false, "Grad").Grads;

    /// <summary>The gradient of a function returning (value, aux): aux is returned beside the gradient, not differentiated.</summary>
    public static Func<T, (T Grad, TAux Aux)> Grad<T, TAux>(Func<T, (Tensor Value, TAux Aux)> f, bool hasAux)
    {
        if (!hasAux) throw new InvalidArgumentError("this Grad overload is for functions returning (value, aux): pass hasAux: true");
        return x => { var r = ValueAndGradCore(a => f((T)a[0]!), [x], [0], true, "Grad"); return ((T)r.Grads[0]!, (TAux)r.Aux!); };
    }

    public static Func<T1, T2, (T1 Grad, TAux Aux)> Grad<T1, T2, TAux>(Func<T1, T2, (Tensor Value, TAux Aux)> f, bool hasAux)
    {
        if (!hasAux) throw new InvalidArgumentError("this Grad overload is for functions returning (value, aux): pass hasAux: true");
        return (a, b) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], [0], true, "Grad"); return ((T1)r.Grads[0]!, (TAux)r.Aux!); };
    }

    // ---------------- ValueAndGrad ----------------

    public static Func<Tensor, (Tensor Value, Tensor Grad)> ValueAndGrad(Func<Tensor, Tensor> f) =>
        x => { var r = ValueAndGradCore(a => f((Tensor)a[0]!), [x], [0], false, "ValueAndGrad"); return (r.Value, (Tensor)r.Grads[0]!); };

    public static Func<T, (Tensor Value, T Grad)> ValueAndGrad<T>(Func<T, Tensor> f) =>
        x => { var r = ValueAndGradCore(a => f((T)a[0]!), [x], [0], false, "ValueAndGrad"); return (r.Value, (T)r.Grads[0]!); };

    public static Func<T1, T2, (Tensor Value, T1 Grad)> ValueAndGrad<T1, T2>(Func<T1, T2, Tensor> f) =>
        (a, b) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], [0], false, "ValueAndGrad"); return (r.Value, (T1)r.Grads[0]!); };

    public static Func<T1, T2, T3, (Tensor Value, T1 Grad)> ValueAndGrad<T1, T2, T3>(Func<T1, T2, T3, Tensor> f) =>
        (a, b, c) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!), [a, b, c], [0], false, "ValueAndGrad"); return (r.Value, (T1)r.Grads[0]!); };

    public static Func<T1, T2, T3, T4, (Tensor Value, T1 Grad)> ValueAndGrad<T1, T2, T3, T4>(Func<T1, T2, T3, T4, Tensor> f) =>
        (a, b, c, d) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!, (T4)x[3]!), [a, b, c, d], [0], false, "ValueAndGrad"); return (r.Value, (T1)r.Grads[0]!); };

    public static Func<T1, T2, (Tensor Value, object?[] Grads)> ValueAndGrad<T1, T2>(Func<T1, T2, Tensor> f, int[] argnums) =>
        (a, b) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], argnums, false, "ValueAndGrad"); return (r.Value, r.Grads); };

    public static Func<T1, T2, T3, (Tensor Value, object?[] Grads)> ValueAndGrad<T1, T2, T3>(Func<T1, T2, T3, Tensor> f, int[] argnums) =>
        (a, b, c) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!, (T3)x[2]!), [a, b, c], argnums, false, "ValueAndGrad"); return (r.Value, r.Grads); };

    public static Func<T, ((Tensor Value, TAux Aux) Value, T Grad)> ValueAndGrad<T, TAux>(Func<T, (Tensor Value, TAux Aux)> f, bool hasAux)
    {
        if (!hasAux) throw new InvalidArgumentError("this ValueAndGrad overload is for functions returning (value, aux): pass hasAux: true");
        return x => { var r = ValueAndGradCore(a => f((T)a[0]!), [x], [0], true, "ValueAndGrad"); return ((r.Value, (TAux)r.Aux!), (T)r.Grads[0]!); };
    }

    public static Func<T1, T2, ((Tensor Value, TAux Aux) Value, T1 Grad)> ValueAndGrad<T1, T2, TAux>(Func<T1, T2, (Tensor Value, TAux Aux)> f, bool hasAux)
    {
        if (!hasAux) throw new InvalidArgumentError("this ValueAndGrad overload is for functions returning (value, aux): pass hasAux: true");
        return (a, b) => { var r = ValueAndGradCore(x => f((T1)x[0]!, (T2)x[1]!), [a, b], [0], true, "ValueAndGrad"); return ((r.Value, (TAux)r.Aux!), (T1)r.Grads[0]!); };
    }

    // ---------------- custom rules, checkpoint, stop_gradient ----------------

    /// <summary>f with a custom JVP rule jvp(x, t) → (f(x), tangent), as jax.custom_jvp. Under every other transform
    /// f itself runs.</summary>
    /// <example><code>var safeLog = CustomJvp((Tensor x) => Np.Log(x), (x, t) => (Np.Log(x), t / x));</code></example>
    public static Func<Tensor, Tensor> CustomJvp(Func<Tensor, Tensor> f, Func<Tensor, Tensor, (Tensor Out, Tensor Tangent)> jvp, string name = "custom_jvp")
    {
        var call = new CustomJvpCall(name, xs => [f(xs[0])], (xs, ts) => { var (o, t) = jvp(xs[0], ts[0]); return ([o], [t]); });
        return x => call.Bind([x])[0];
    }

    /// <summary>A custom JVP over flat lists of tensors.</summary>
    public static Func<Tensor[], Tensor[]> CustomJvp(Func<Tensor[], Tensor[]> f, Func<Tensor[], Tensor[], (Tensor[] Outs, Tensor[] Tangents)> jvp, string name = "custom_jvp")
    {
        var call = new CustomJvpCall(name, f, jvp);
        return xs => call.Bind(xs);
    }

    /// <summary>f with a custom VJP, as jax.custom_vjp: fwd(x) → (f(x), residuals), bwd(residuals, ct) → input ct.</summary>
    /// <example><code>
    /// var clipGrad = CustomVjp((Tensor x) => x, x => (x, Np.ZerosLike(x)), (res, g) => Np.Clip(g, -1f, 1f));
    /// </code></example>
    public static Func<Tensor, Tensor> CustomVjp<TRes>(Func<Tensor, Tensor> f, Func<Tensor, (Tensor Out, TRes Residuals)> fwd, Func<TRes, Tensor, Tensor> bwd, string name = "custom_vjp")
    {
        TreeDef? resDef = null;
        var call = new CustomVjpCall(name, xs => [f(xs[0])],
            xs => { var (o, r) = fwd(xs[0]); var (rl, rd) = Tree.Flatten(r); resDef = rd; return ([o], rl.ToArray()); },
            (res, cts) => [bwd((TRes)Tree.Unflatten(resDef!, res)!, cts[0])]);
        return x => call.Bind([x])[0];
    }

    /// <summary>A custom VJP over flat lists of tensors.</summary>
    public static Func<Tensor[], Tensor[]> CustomVjp(Func<Tensor[], Tensor[]> f, Func<Tensor[], (Tensor[] Outs, Tensor[] Residuals)> fwd, Func<Tensor[], Tensor[], Tensor[]> bwd, string name = "custom_vjp")
    {
        var call = new CustomVjpCall(name, f, fwd, bwd);
        return xs => call.Bind(xs);
    }

    /// <summary>jax.checkpoint (remat): f's intermediates are not stored for the backward pass; f is recomputed there.</summary>
    public static Func<TIn, TOut> Checkpoint<TIn, TOut>(Func<TIn, TOut> f) => x =>
    {
        var (leaves, def) = Tree.Flatten(x);
        TreeDef? outDef = null;
        var call = new CheckpointCall(xs =>
        {
            var r = f((TIn)Tree.Unflatten(def, xs)!);
            var (ol, od) = Tree.Flatten(r);
            outDef = od;
            return ol.ToArray();
        });
        var args = leaves.ToArray();
        // Inside a loop or branch body being traced, keep the checkpoint as an equation so that differentiating the
        // loop later still recomputes f (a custom call would be inlined into the body's jaxpr).
        var outs = CustomRules.InControlFlowBody(args) ? CustomRules.BindCheckpoint(call.Fun, args) : call.Bind(args);
        return (TOut)Tree.Unflatten(outDef!, outs)!;
    };

    /// <summary>Identity whose derivative is zero (lax.stop_gradient), over pytrees.</summary>
    public static T StopGradient<T>(T tree) => Tree.Map(Lax.StopGradient, tree);

    /// <summary>The jaxpr of f (see <see cref="Jax.MakeJaxpr{TIn,TOut}"/>).</summary>
    public static Func<TIn, ClosedJaxpr> MakeJaxpr<TIn, TOut>(Func<TIn, TOut> f) => Jax.MakeJaxpr(f);
}
