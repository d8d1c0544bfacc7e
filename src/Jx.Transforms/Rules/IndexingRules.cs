namespace Jx;

/// <summary>Differentiation rules of gather and the scatter family.</summary>
internal static class IndexingRules
{
    internal static void Register()
    {
        Ad.DefJvp(Indexing.Gather, (xs, ts, p) =>
        {
            var ans = Indexing.Gather.Bind1(xs, p);
            if (ts[0] is not Tensor g) return ([ans], [null]);
            // Out-of-bounds slices read 0 in the tangent, whatever the primal's fill value.
            return ([ans], [Indexing.Gather.Bind1([g, xs[1]], p.With("fill_value", 0.0))]);
        });
        Ad.DefTranspose(Indexing.Gather, (ct, ins, p) =>
        {
            var dn = p.Get<GatherDimensionNumbers>("dimension_numbers");
            var mode = p.Get<GatherScatterMode>("mode");
            var sdn = new ScatterDimensionNumbers(dn.OffsetDims, dn.CollapsedSliceDims, dn.StartIndexMap);
            var zeros = Np.Zeros(ins[0].Shape, ct[0].DType);
            var r = Lax.ScatterAdd(zeros, ins[1].Value, ct[0], sdn, mode == GatherScatterMode.FillOrDrop ? GatherScatterMode.FillOrDrop : GatherScatterMode.Clip);
            return [r, null];
        });

        Ad.DefJvp(Indexing.ScatterAdd, (xs, ts, p) =>
        {
            var ans = Indexing.ScatterAdd.Bind1(xs, p);
            if (ts[0] is null && ts[2] is null) return ([ans], [null]);
            var t0 = ts[0] ?? Ad.ZerosLikeTangent(xs[0]);
            var t2 = ts[2] ?? Ad.ZerosLikeTangent(xs[2]);
            return ([ans], [Indexing.ScatterAdd.Bind1([t0, xs[1], t2], p)]);
        });
        Ad.DefTranspose(Indexing.ScatterAdd, (ct, ins, p) =>
        {
            var idx = ins[1].Value;
            return [ins[0].IsLinear ? ct[0] : null, null, ins[2].IsLinear ? GatherUpdates(ct[0], idx, ins[2].Aval, p) : null];
        });

        // scatter (replace): the winning update of each position is tracked with ids, so duplicates get the right tangent.
        Ad.DefJvp(Indexing.ScatterReplace, (xs, ts, p) =>
        {
            var ans = Indexing.ScatterReplace.Bind1(xs, p);
            if (ts[0] is null && ts[2] is null) return ([ans], [null]);
            var t0 = ts[0] ?? Ad.ZerosLikeTangent(xs[0]);
            var t2 = ts[2] ?? Ad.ZerosLikeTangent(xs[2]);
            return ([ans], [Indexing.ScatterReplace.Bind1([t0, xs[1], t2], p)]);
        });
        Ad.DefTranspose(Indexing.ScatterReplace, (ct, ins, p) =>
        {
            var idx = ins[1].Value;
            var u = ins[2].Aval;
            Tensor? tOp = ins[0].IsLinear ? Indexing.ScatterReplace.Bind1([ct[0], idx, Np.Zeros(u.Shape, ct[0].DType)], p) : null;
            Tensor? tUpd = null;
            if (ins[2].IsLinear)
            {
                // ids[i] = which update landed at position i (last write wins, as the kernel does).
                var ids = Lax.Reshape(Lax.Iota(DType.Int32, u.Size), u.Shape);
                var placed = Indexing.ScatterReplace.Bind1([Np.Full(ins[0].Shape, -1, DType.Int32), idx, ids], p);
                var winner = GatherUpdates(placed, idx, u with { DType = DType.Int32 }, p);
                var mask = Lax.ConvertElementType(Lax.Eq(winner, ids), ct[0].DType);
                tUpd = Lax.Mul(GatherUpdates(ct[0], idx, u, p), mask);
            }
            return [tOp, null, tUpd];
        });

        Ad.DefJvp(Indexing.ScatterMul, (xs, ts, p) =>
        {
            var ans = Indexing.ScatterMul.Bind1(xs, p);
            if (ts[2] is not null)
                throw new NotDifferentiableError("scatter-mul (x.At[i].Multiply) is differentiable with respect to the operand only, as in JAX without unique indices");
            if (ts[0] is not Tensor g) return ([ans], [null]);
            return ([ans], [Indexing.ScatterMul.Bind1([g, xs[1], xs[2]], p)]);
        });
        Ad.DefTranspose(Indexing.ScatterMul, (ct, ins, p) =>
        {
            if (ins[2].IsLinear) throw new NotDifferentiableError("scatter-mul is not linear in its updates");
            return [Indexing.ScatterMul.Bind1([ct[0], ins[1].Value, ins[2].Value], p), null, null];
        });
        Ad.DefJvp(Indexing.ScatterMin, ExtremalJvp(Indexing.ScatterMin));
        Ad.DefJvp(Indexing.ScatterMax, ExtremalJvp(Indexing.ScatterMax));
    }

    /// <summary>The updates-shaped gather that reads, for every update element, the operand position it addresses.</summary>
    internal static Tensor GatherUpdates(Tensor from, Tensor idx, Aval updates, Params p)
    {
        var dn = p.Get<ScatterDimensionNumbers>("dimension_numbers");
        var mode = p.Get<GatherScatterMode>("mode");
        var sizes = new int[from.Rank];
        for (int d = 0; d < from.Rank; d++) sizes[d] = 1;
        var windowOperandDims = Enumerable.Range(0, from.Rank).Where(i => !dn.InsertedWindowDims.Contains(i)).ToArray();
        for (int i = 0; i < windowOperandDims.Length; i++) sizes[windowOperandDims[i]] = updates.Shape[dn.UpdateWindowDims[i]];
        var gdn = new GatherDimensionNumbers(dn.UpdateWindowDims, dn.InsertedWindowDims, dn.ScatterDimsToOperandDims);
        return Lax.Gather(from, idx, gdn, sizes, mode == GatherScatterMode.FillOrDrop ? GatherScatterMode.FillOrDrop : GatherScatterMode.Clip, 0.0);
    }

    /// <summary>scatter-min/max: the result's tangent comes from the operand where it kept its value, else from the update
    /// that won; ties share the tangent equally.</summary>
    private static JvpRule ExtremalJvp(Primitive prim) => (xs, ts, p) =>
    {
        var (x, idx, u) = (xs[0], xs[1], xs[2]);
        var ans = prim.Bind1(xs, p);
        if ((ts[0] is null && ts[2] is null) || !x.DType.IsFloating()) return ([ans], [null]);
        var tx = ts[0] ?? Ad.ZerosLikeTangent(x);
        var tu = ts[2] ?? Ad.ZerosLikeTangent(u);
        var fromOperand = Lax.ConvertElementType(Lax.Eq(x, ans), x.DType);
        var ansAtUpdates = GatherUpdates(ans, idx, u.Aval, p);
        var fromUpdate = Lax.ConvertElementType(Lax.Eq(u, ansAtUpdates), x.DType);
        var count = Lax.Add(fromOperand, Indexing.ScatterAdd.Bind1([Np.ZerosLike(x), idx, fromUpdate], p));
        var num = Lax.Add(Lax.Mul(tx, fromOperand), Indexing.ScatterAdd.Bind1([Np.ZerosLike(x), idx, Lax.Mul(tu, fromUpdate)], p));
        return ([ans], [Lax.Div(num, count)]);
    };
}
