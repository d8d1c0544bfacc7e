namespace Jx;

public static partial class Lax
{
    private static (List<Tensor> Leaves, TreeDef Def) Flat(object? tree) => Tree.Flatten(tree);

    /// <summary>Runs trueFn(operand) where pred is true, else falseFn(operand) — both traced once into sub-jaxprs, so the
    /// choice can depend on traced values (a C# if cannot). Both branches must return the same structure and types.</summary>
    /// <example><code>var y = Lax.Cond(x.Sum() > 0f, v => v * 2f, v => -v, x);</code></example>
    public static TOut Cond<T, TOut>(Tensor pred, Func<T, TOut> trueFn, Func<T, TOut> falseFn, T operand)
    {
        if (pred.Rank != 0) throw new ShapeError($"Cond's predicate must be a scalar, got shape {pred.Shape}");
        var index = Lax.ConvertElementType(pred.DType == DType.Bool ? pred : Lax.Ne(pred, Np.ZerosLike(pred)), DType.Int32);
        return Switch(index, [falseFn, trueFn], operand);
    }

    /// <summary>Runs branches[clamp(index, 0, n−1)](operand), as lax.switch.</summary>
    public static TOut Switch<T, TOut>(Tensor index, Func<T, TOut>[] branches, T operand)
    {
        if (branches.Length == 0) throw new InvalidArgumentError("Switch needs at least one branch");
        if (index.Rank != 0 || !index.DType.IsInteger()) throw new DTypeError($"Switch's index must be an integer scalar, got {index.Aval}");
        var (leaves, def) = Flat(operand);
        var outDefs = new TreeDef?[branches.Length];
        var fns = branches.Select((br, b) => (Func<Tensor[], Tensor[]>)(xs =>
        {
            var (ol, d) = Flat(br((T)Tree.Unflatten(def, xs)!));
            outDefs[b] = d;
            if (b > 0 && outDefs[0] is TreeDef d0 && !d0.Equals(d))
                throw new TypeMismatchError($"branches of Cond/Switch must return the same structure: branch 0 returns {d0} but branch {b} returns {d}");
            return ol.ToArray();
        })).ToArray();
        var outs = Staging.BindCond(index, fns, leaves.ToArray());
        var outDef = outDefs[0];
        return (TOut)Tree.Unflatten(outDef!, outs)!;
    }

    /// <summary>Repeats body while cond(carry) is true (lax.while_loop). Not reverse-differentiable: use Scan or a ForiLoop
    /// with constant bounds for gradients.</summary>
    /// <example><code>var r = Lax.WhileLoop(c => c.Item1 &lt; 10, c => (c.Item1 + 1, c.Item2 * 2f), (Tensor.Scalar(0), x));</code></example>
    public static T WhileLoop<T>(Func<T, Tensor> cond, Func<T, T> body, T init)
    {
        var (leaves, def) = Flat(init);
        var avals = leaves.Select(l => l.Aval.Strong).ToArray();
        leaves = leaves.Select((l, i) => Lax.ConvertElementType(l, avals[i].DType)).ToList();
        var (cj, cc) = Staging.TraceConverted(xs => [cond((T)Tree.Unflatten(def, xs)!)], avals, "while_cond");
        var (bj, bc) = Staging.TraceConverted(xs =>
        {
            var (ol, od) = Flat(body((T)Tree.Unflatten(def, xs)!));
            if (!od.Equals(def))
                throw new TypeMismatchError($"WhileLoop's body must return the carry's structure: input {def}, output {od}");
            return ol.Select((o, i) => Lax.ConvertElementType(o, avals[i].DType)).ToArray();
        }, avals, "while_body");
        var outs = ControlFlow.While.Bind([.. cc, .. bc, .. leaves],
            Params.Of(("cond_jaxpr", cj), ("body_jaxpr", bj), ("cond_nconsts", cc.Length), ("body_nconsts", bc.Length)));
        return (T)Tree.Unflatten(def, outs)!;
    }

    /// <summary>Loops body(i, carry) for i in [lower, upper). With constant bounds it lowers to Scan, so it is
    /// reverse-differentiable (as in JAX).</summary>
    /// <example><code>var p = Lax.ForiLoop(0, 3, (i, c) => c * x, Tensor.Scalar(1f)); // x³</code></example>
    public static T ForiLoop<T>(int lower, int upper, Func<Tensor, T, T> body, T init)
    {
        int n = Math.Max(0, upper - lower);
        var (carry, _) = Scan<T, Tensor, object?>((c, i) => (body(i, c), null), init, Lax.Add(Lax.Iota(DType.Int32, n), Np.Full([n], lower, DType.Int32)));
        return carry;
    }

    /// <summary>ForiLoop with traced bounds: lowers to WhileLoop (forward-mode differentiable only).</summary>
    public static T ForiLoop<T>(Tensor lower, Tensor upper, Func<Tensor, T, T> body, T init)
    {
        var lo = Lax.ConvertElementType(lower, DType.Int32);
        var hi = Lax.ConvertElementType(upper, DType.Int32);
        var (_, _, r) = WhileLoop<(Tensor I, Tensor Hi, T C)>(s => Lax.Lt(s.I, s.Hi), s => (Lax.Add(s.I, Np.Ones([], DType.Int32)), s.Hi, body(s.I, s.C)), (lo, hi, init));
        return r;
    }

    /// <summary>Scans fn over the leading axis of xs, carrying state (lax.scan): returns the final carry and the stacked
    /// per-step outputs. Reverse-differentiable; <paramref name="reverse"/> scans from the end. <paramref name="unroll"/>
    /// (a positive int) is how many steps a compiled loop runs per iteration — the body is repeated that many times in
    /// one compiled iteration, which can fuse across steps; it changes no result beyond the rounding of fused arithmetic.</summary>
    /// <example><code>var (last, prefix) = Lax.Scan((c, x) => (c * x, c), Tensor.Scalar(1f), Np.Array(new float[] { 1, 2, 3 }));</code></example>
    public static (TCarry Carry, TY Ys) Scan<TCarry, TX, TY>(Func<TCarry, TX, (TCarry, TY)> fn, TCarry init, TX xs, int? length = null, bool reverse = false, int unroll = 1)
    {
        if (unroll < 1) throw new InvalidArgumentError($"Scan's unroll must be a bool or a positive int, got {unroll}.");
        var (cl, cdef) = Flat(init);
        var (xl, xdef) = Flat(xs);
        int n = length ?? (xl.Count > 0 ? xl[0].Shape[0] : throw new InvalidArgumentError("Scan needs xs or an explicit length"));
        foreach (var x in xl)
            if (x.Rank == 0 || x.Shape[0] != n)
                throw new ShapeError($"Scan got xs whose leading axis sizes differ: {string.Join(", ", xl.Select(t => t.Rank == 0 ? "scalar" : t.Shape[0].ToString()))} (length {n})");
        var cavals = cl.Select(c => c.Aval.Strong).ToArray();
        cl = cl.Select((c, i) => Lax.ConvertElementType(c, cavals[i].DType)).ToList();
        var xavals = xl.Select(x => x.Aval.Strong with { Shape = new Shape(x.Shape.Skip(1).ToArray()) }).ToArray();
        TreeDef? ydef = null;
        var (j, consts) = Staging.TraceConverted(a =>
        {
            var c = (TCarry)Tree.Unflatten(cdef, a[..cavals.Length])!;
            var x = (TX)Tree.Unflatten(xdef, a[cavals.Length..])!;
            var (c2, y) = fn(c, x);
            var (c2l, c2def) = Flat(c2);
            if (!c2def.Equals(cdef))
                throw new TypeMismatchError($"Scan's function must return a carry of the input carry's structure: input {cdef}, output {c2def}");
            var (yl, yd) = Flat(y);
            ydef = yd;
            return [.. c2l.Select((o, i) => Lax.ConvertElementType(o, cavals[i].DType)), .. yl];
        }, [.. cavals, .. xavals], "scan");
        var outs = ControlFlow.Scan.Bind([.. consts, .. cl, .. xl],
            Params.Of(("jaxpr", j), ("num_consts", consts.Length), ("num_carry", cavals.Length), ("length", n), ("reverse", reverse), ("unroll", unroll)));
        return ((TCarry)Tree.Unflatten(cdef, outs[..cavals.Length])!, (TY)Tree.Unflatten(ydef!, outs[cavals.Length..])!);
    }

    /// <summary>Scan with <paramref name="unroll"/> as a bool (as JAX's): true unrolls the whole loop into one compiled
    /// iteration, false is unroll 1.</summary>
    /// <example><code>var (total, _) = Lax.Scan((c, x) => (c + x, c), Tensor.Scalar(0f), Np.Arange(4).AsType(DType.Float32), unroll: true);</code></example>
    public static (TCarry Carry, TY Ys) Scan<TCarry, TX, TY>(Func<TCarry, TX, (TCarry, TY)> fn, TCarry init, TX xs, bool unroll, int? length = null, bool reverse = false)
    {
        var leaves = Flat(xs).Leaves;
        int n = length ?? (leaves.Count > 0 && leaves[0].Rank > 0 ? leaves[0].Shape[0] : 1);
        return Scan(fn, init, xs, length, reverse, unroll ? Math.Max(n, 1) : 1);
    }

    /// <summary>Maps f over the leading axis of xs, sequentially (lax.map).</summary>
    public static TY Map<TX, TY>(Func<TX, TY> f, TX xs) => Scan<object?, TX, TY>((c, x) => (c, f(x)), null, xs).Ys;
}
