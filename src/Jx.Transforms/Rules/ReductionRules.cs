namespace Jx;

/// <summary>Differentiation rules of the reductions and cumulative scans.</summary>
internal static class ReductionRules
{
    internal static void Register()
    {
        Ad.DefLinear(Reductions.ReduceSum, (ct, ins, p) =>
        {
            var shape = ins[0].Shape;
            var axes = p.Ints("axes");
            var kept = Enumerable.Range(0, shape.Rank).Where(d => !axes.Contains(d)).ToArray();
            return [Lax.BroadcastInDim(ct[0], shape, kept)];
        });
        Ad.DefJvp(Reductions.ReduceMax, ChooserJvp(Reductions.ReduceMax));
        Ad.DefJvp(Reductions.ReduceMin, ChooserJvp(Reductions.ReduceMin));
        Ad.DefJvp(Reductions.ReduceProd, JvpFlat.ViaComposite(Reductions.ReduceProd, (xs, p) => [TreeProduct(xs[0], p.Ints("axes"))]));
        foreach (var prim in new[] { Reductions.ReduceAnd, Reductions.ReduceOr, Reductions.ArgMax, Reductions.ArgMin })
            Ad.DefNonDifferentiable(prim, "boolean or integer result");
        Ad.DefLinear(Reductions.Cumsum, (ct, ins, p) => [Lax.Cumsum(ct[0], p.Int("axis"), !p.Bool("reverse"))]);
        Ad.DefJvp(Reductions.Cumprod, JvpFlat.ViaComposite(Reductions.Cumprod, (xs, p) => [PrefixScan(xs[0], p.Int("axis"), p.Bool("reverse"), Lax.Mul, 1)]));
        Ad.DefJvp(Reductions.Cummax, JvpFlat.ViaComposite(Reductions.Cummax, (xs, p) => [PrefixScan(xs[0], p.Int("axis"), p.Bool("reverse"), Lax.Max, double.NegativeInfinity)]));
        Ad.DefJvp(Reductions.Cummin, JvpFlat.ViaComposite(Reductions.Cummin, (xs, p) => [PrefixScan(xs[0], p.Int("axis"), p.Bool("reverse"), Lax.Min, double.PositiveInfinity)]));
    }

    /// <summary>JAX's chooser rule: the tangent is averaged over the positions that attain the max (or min).</summary>
    private static JvpRule ChooserJvp(Primitive p) => (xs, ts, ps) =>
    {
        var x = xs[0];
        var ans = p.Bind1(xs, ps);
        if (ts[0] is not Tensor g || !x.DType.IsFloating()) return ([ans], [null]);
        var axes = ps.Ints("axes");
        var kept = Enumerable.Range(0, x.Rank).Where(d => !axes.Contains(d)).ToArray();
        var loc = Lax.ConvertElementType(Lax.Eq(x, Lax.BroadcastInDim(ans, x.Shape, kept)), g.DType);
        var counts = Lax.ReduceSum(loc, axes);
        return ([ans], [Lax.Div(Lax.ReduceSum(Lax.Mul(g, loc), axes), counts)]);
    };

    /// <summary>Product over axes by pairwise multiplication of halves (log depth), differentiable at zeros.</summary>
    internal static Tensor TreeProduct(Tensor x, int[] axes)
    {
        var kept = Enumerable.Range(0, x.Rank).Where(d => !axes.Contains(d)).ToArray();
        var moved = Lax.Transpose(x, [.. axes, .. kept]);
        int n = axes.Aggregate(1, (a, d) => a * x.Shape[d]);
        var restShape = kept.Select(d => x.Shape[d]).ToArray();
        var y = Lax.Reshape(moved, new Shape([n, .. restShape]));
        if (n == 0) return Np.Ones(new Shape(restShape), x.DType);
        while (y.Shape[0] > 1)
        {
            int m = y.Shape[0];
            if (m % 2 == 1)
                y = Lax.Pad(y, Np.Ones([], y.DType), [(0, 1, 0), .. restShape.Select(_ => (0, 0, 0))]);
            var lim = y.Shape.ToArray();
            var a = Lax.Slice(y, new int[y.Rank], lim, [2, .. restShape.Select(_ => 1)]);
            var start = new int[y.Rank]; start[0] = 1;
            var b = Lax.Slice(y, start, lim, [2, .. restShape.Select(_ => 1)]);
            y = Lax.Mul(a, b);
        }
        return Lax.Reshape(y, new Shape(restShape));
    }

    /// <summary>Inclusive scan by log-step doubling (Hillis–Steele) with pads and slices, differentiable by composition.</summary>
    internal static Tensor PrefixScan(Tensor x, int axis, bool reverse, Func<Tensor, Tensor, Tensor> op, double identity)
    {
        var y = reverse ? Lax.Rev(x, [axis]) : x;
        int n = x.Shape[axis];
        for (int s = 1; s < n; s *= 2)
        {
            var head = Lax.SliceInDim(y, 0, n - s, 1, axis);
            var cfg = Enumerable.Range(0, x.Rank).Select(d => d == axis ? (s, 0, 0) : (0, 0, 0)).ToArray();
            var shifted = Lax.Pad(head, Lax.ConvertElementType(Tensor.Scalar(identity), x.DType), cfg);
            y = op(y, shifted);
        }
        return reverse ? Lax.Rev(y, [axis]) : y;
    }
}
