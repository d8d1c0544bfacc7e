namespace Jx;

/// <summary>Jacobians and Hessians (jax.jacfwd, jax.jacrev, jax.hessian), for tensors and pytrees. Forward mode
/// vectorizes one JVP over the standard basis of the input, reverse mode vectorizes the pullback over the standard basis
/// of the output (both with Vmap, so each primitive runs once on the whole basis). For pytrees the basis runs over the
/// input leaves laid end to end, and the block of output leaf i and input leaf j has shape out_i.shape + in_j.shape and,
/// as in JAX, the output leaf's dtype in forward mode and the input leaf's in reverse mode.</summary>
public static partial class Transforms
{
    /// <summary>The Jacobian by forward mode (jax.jacfwd): shape out.shape + in.shape. One JVP per input basis vector, all
    /// at once: the JVP is vectorized with <see cref="Vmap(Func{Tensor, Tensor}, int?, int?, string?, int?)"/> over the
    /// standard basis of the input, so f's primal computation runs once and every primitive runs once on the whole basis.</summary>
    /// <example><code>var j = Jacfwd((Tensor x) => Np.Sin(x) * x.Sum())(x);   // j[i, k] = d out_i / d x_k</code></example>
    public static Func<Tensor, Tensor> Jacfwd(Func<Tensor, Tensor> f) => x =>
    {
        if (!x.DType.IsFloating()) throw new DTypeError($"Jacfwd requires a floating-point input, got {x.DType.Name()}");
        int n = x.Size;
        if (n == 0) return Np.Zeros(new Shape([.. f(x).Shape, .. x.Shape]), x.DType);
        Shape? outShape = null;
        // column k of the Jacobian is the tangent along e_k; the batch of columns goes last: out.shape + (n,)
        var cols = Vmap((Tensor e) => { var (o, t) = Jvp(f, x, e); outShape = o.Shape; return t; }, outAxes: -1)(StandardBasis(x));
        return Lax.Reshape(cols, new Shape([.. outShape!, .. x.Shape]));
    };

    /// <summary>The Jacobian by reverse mode (jax.jacrev): shape out.shape + in.shape. f is linearized once and its pullback
    /// is vectorized with <see cref="Vmap(Func{Tensor, Tensor}, int?, int?, string?, int?)"/> over the standard basis of
    /// the output, so the backward pass runs once for all output cotangents.</summary>
    /// <example><code>var j = Jacrev((Tensor x) => Np.Sin(x) * x.Sum())(x);   // j[i, k] = d out_i / d x_k</code></example>
    public static Func<Tensor, Tensor> Jacrev(Func<Tensor, Tensor> f) => x =>
    {
        if (!x.DType.IsFloating()) throw new DTypeError($"Jacrev requires a floating-point input, got {x.DType.Name()}");
        var (o, pull) = Vjp(f, x);
        if (o.Size == 0 || x.Size == 0) return Np.Zeros(new Shape([.. o.Shape, .. x.Shape]), x.DType);
        // row i of the Jacobian is the pullback of e_i: (m, *in.shape), m = out.size, row-major as out.shape + in.shape
        var rows = Vmap(pull)(StandardBasis(o));
        return Lax.Reshape(rows, new Shape([.. o.Shape, .. x.Shape]));
    };

    /// <summary>The standard basis of x's space: (x.size, *x.shape), row k the one-hot e_k in x's dtype (JAX's _std_basis).</summary>
    private static Tensor StandardBasis(Tensor x) => Lax.Reshape(Np.Eye(x.Size, dtype: x.DType), new Shape([x.Size, .. x.Shape]));

    /// <summary>The Hessian, forward-over-reverse: Jacfwd(Jacrev(f)); shape in.shape + in.shape for scalar f.</summary>
    public static Func<Tensor, Tensor> Hessian(Func<Tensor, Tensor> f) => Jacfwd(Jacrev(f));


    /// <summary>The Jacobian of a tensor-valued function of a pytree, by forward mode: the input's structure, each leaf
    /// d out / d leaf of shape out.shape + leaf.shape (jax.jacfwd with a pytree argument).</summary>
    /// <example><code>
    /// var j = Jacfwd((Mlp p) => p.W.Matmul(x) + p.B)(p);   // j.W: out.shape + W.shape, j.B: out.shape + B.shape
    /// </code></example>
    public static Func<T, T> Jacfwd<T>(Func<T, Tensor> f) => x =>
    {
        var j = JacobianBlocks(a => f((T)a!), x, forward: true, "Jacfwd");
        return (T)Tree.Unflatten(j.InDef, j.Blocks[0])!;
    };

    /// <summary>The Jacobian of a tensor-valued function of a pytree, by reverse mode (see <see cref="Jacfwd{T}(Func{T, Tensor})"/>).</summary>
    /// <example><code>var j = Jacrev((Mlp p) => Loss(p, x, y))(p);   // for a scalar loss: the gradient, as a pytree</code></example>
    public static Func<T, T> Jacrev<T>(Func<T, Tensor> f) => x =>
    {
        var j = JacobianBlocks(a => f((T)a!), x, forward: false, "Jacrev");
        return (T)Tree.Unflatten(j.InDef, j.Blocks[0])!;
    };

    /// <summary>The Jacobian of a pytree-valued function of one tensor, by forward mode: the output's structure, each leaf
    /// d leaf / d x of shape leaf.shape + x.shape.</summary>
    /// <example><code>var j = Jacfwd((Tensor x) => (Np.Sin(x), x.Sum()))(x);   // (cos-diagonal [n,n], ones [n])</code></example>
    public static Func<Tensor, T> Jacfwd<T>(Func<Tensor, T> f) => x =>
    {
        var j = JacobianBlocks(a => f((Tensor)a!), x, forward: true, "Jacfwd");
        return (T)Tree.Unflatten(j.OutDef, j.Blocks.Select(row => row[0]))!;
    };

    /// <summary>The Jacobian of a pytree-valued function of one tensor, by reverse mode (see <see cref="Jacfwd{T}(Func{Tensor, T})"/>).</summary>
    /// <example><code>var j = Jacrev((Tensor x) => (Np.Sin(x), x.Sum()))(x);</code></example>
    public static Func<Tensor, T> Jacrev<T>(Func<Tensor, T> f) => x =>
    {
        var j = JacobianBlocks(a => f((Tensor)a!), x, forward: false, "Jacrev");
        return (T)Tree.Unflatten(j.OutDef, j.Blocks.Select(row => row[0]))!;
    };

    /// <summary>The Jacobian of a pytree-valued function of a pytree, by forward mode. JAX returns a tree of trees (the
    /// output's structure, each leaf holding a tree of the input's structure); C# cannot name that type, so the outer
    /// level comes flattened: one tree of the input's structure per output leaf, in the output's leaf order.</summary>
    /// <example><code>
    /// var j = JacfwdTree(((Tensor A, Tensor B) p) => (p.A * p.B, p.A.Sum()))((a, b));
    /// // j[0] = (d(A·B)/dA, d(A·B)/dB), j[1] = (d ΣA/dA, d ΣA/dB)
    /// </code></example>
    public static Func<TIn, IReadOnlyList<TIn>> JacfwdTree<TIn, TOut>(Func<TIn, TOut> f) => x =>
    {
        var j = JacobianBlocks(a => f((TIn)a!), x, forward: true, "JacfwdTree");
        return j.Blocks.Select(row => (TIn)Tree.Unflatten(j.InDef, row)!).ToList();
    };

    /// <summary>The Jacobian of a pytree-valued function of a pytree, by reverse mode (see <see cref="JacfwdTree{TIn, TOut}"/>).</summary>
    /// <example><code>var j = JacrevTree(((Tensor A, Tensor B) p) => (p.A * p.B, p.A.Sum()))((a, b));</code></example>
    public static Func<TIn, IReadOnlyList<TIn>> JacrevTree<TIn, TOut>(Func<TIn, TOut> f) => x =>
    {
        var j = JacobianBlocks(a => f((TIn)a!), x, forward: false, "JacrevTree");
        return j.Blocks.Select(row => (TIn)Tree.Unflatten(j.InDef, row)!).ToList();
    };

    /// <summary>The Hessian of a scalar function of a pytree, forward-over-reverse (jax.hessian): one tree of the input's
    /// structure per input leaf i (in leaf order), whose leaf j is d²f / d x_i d x_j of shape x_i.shape + x_j.shape.</summary>
    /// <example><code>
    /// var h = Hessian(((Tensor W, Tensor B) p) => Np.Sum(p.W * p.W * p.B))((w, b));
    /// // h[0].W = d²f/dW dW, h[0].B = d²f/dW dB, h[1].W = d²f/dB dW, h[1].B = d²f/dB dB
    /// </code></example>
    public static Func<T, IReadOnlyList<T>> Hessian<T>(Func<T, Tensor> f) => JacfwdTree<T, T>(Jacrev(f));

    /// <summary>A Jacobian as blocks: Blocks[i][j] = d out_i / d in_j with shape out_i.shape + in_j.shape, for the leaves
    /// of f's output and input in flatten order.</summary>
    private sealed record Jacobian(TreeDef InDef, TreeDef OutDef, Tensor[][] Blocks);

    private static Jacobian JacobianBlocks(Func<object?, object?> f, object? x, bool forward, string who)
    {
        var (inLeaves, inDef) = Tree.Flatten(x);
        foreach (var l in inLeaves)
            if (!l.DType.IsFloating()) throw new DTypeError($"{who} requires floating-point inputs, got a {l.DType.Name()} leaf of shape {l.Shape}");
        // The output's structure, shapes and dtypes, from an abstract trace of f (no values are computed).
        var inAvals = inLeaves.Select(l => l.Aval).ToArray();
        TreeDef? traced = null;
        var outAvals = StagingTrace.TraceToJaxpr(flat =>
        {
            var (ol, od) = Tree.Flatten(f(Tree.Unflatten(inDef, flat)));
            traced = od;
            return ol.ToArray();
        }, inAvals, who).OutAvals;
        var outDef = traced!;
        int n = inAvals.Sum(a => a.Size), m = outAvals.Sum(a => a.Size);
        var dt = Common(inAvals.Concat(outAvals).Select(a => a.DType).Where(d => d.IsFloating()));
        Tensor full;
        if (n == 0 || m == 0) full = Np.Zeros([m, n], dt);
        else if (forward)
            // column k: the output tangents along the k-th basis vector of the input, laid end to end
            full = Vmap((Tensor e) => Concat(Tree.Leaves(Jvp(f, x, Tree.Unflatten(inDef, Split(e, inAvals))).Tangent), dt), outAxes: -1)(Np.Eye(n, dtype: dt));
        else
        {
            var (_, pull) = Vjp(f, x);
            // row i: the input cotangents of the i-th basis vector of the output
            full = Vmap((Tensor c) => Concat(Tree.Leaves(pull(Tree.Unflatten(outDef, Split(c, outAvals)))), dt))(Np.Eye(m, dtype: dt));
        }
        var blocks = new Tensor[outAvals.Length][];
        for (int i = 0, oi = 0; i < outAvals.Length; oi += outAvals[i].Size, i++)
        {
            blocks[i] = new Tensor[inAvals.Length];
            for (int j = 0, oj = 0; j < inAvals.Length; oj += inAvals[j].Size, j++)
            {
                var block = Lax.Slice(full, [oi, oj], [oi + outAvals[i].Size, oj + inAvals[j].Size]);
                // As JAX: forward mode gives the output's dtype (tangents of the output), reverse mode the input's.
                var dtype = forward ? outAvals[i].DType : inAvals[j].DType;
                blocks[i][j] = Lax.ConvertElementType(Lax.Reshape(block, new Shape([.. outAvals[i].Shape, .. inAvals[j].Shape])), dtype);
            }
        }
        return new Jacobian(inDef, outDef, blocks);
    }

    /// <summary>The leaves of a flat vector, one per aval (reshaped, in the aval's dtype).</summary>
    private static Tensor[] Split(Tensor flat, Aval[] avals)
    {
        var parts = new Tensor[avals.Length];
        for (int i = 0, at = 0; i < avals.Length; at += avals[i].Size, i++)
            parts[i] = Lax.ConvertElementType(Lax.Reshape(Lax.Slice(flat, [at], [at + avals[i].Size]), avals[i].Shape), avals[i].DType);
        return parts;
    }

    private static Tensor Concat(IEnumerable<Tensor> leaves, DType dtype) =>
        Lax.Concatenate(leaves.Select(l => Lax.ConvertElementType(Lax.Reshape(l, new Shape([l.Size])), dtype)).ToArray(), 0);

    /// <summary>The widest floating dtype among the leaves (float64 if any, else float32 if any, else the first).</summary>
    private static DType Common(IEnumerable<DType> dtypes)
    {
        var list = dtypes.ToList();
        if (list.Contains(DType.Float64)) return DType.Float64;
        if (list.Contains(DType.Float32) || list.Count == 0) return DType.Float32;
        return list[0];
    }
}
