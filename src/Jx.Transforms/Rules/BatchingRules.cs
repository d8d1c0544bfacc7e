namespace Jx;

/// <summary>Vmap's batching rules for every primitive family of Jx.Core. A rule moves or keeps the batch dimension so
/// that the primitive runs once on the whole batch; unbatched operands stay unbatched where the primitive allows.</summary>
internal static class BatchingRules
{
    private static int[] S(int[] a) => Batching.Shift(a);

    internal static void Register()
    {
        // ---- elementwise ----
        foreach (var p in PrimitiveRegistry.All.Where(p => p.Family == "elementwise"))
            Batching.Def(p, Batching.Elementwise(p));
        Batching.Def(Misc.StopGradient, Batching.Elementwise(Misc.StopGradient));
        Batching.Def(Conversions.SelectN, (vals, dims, ps, size) =>
        {
            var caseDims = dims.Skip(1).ToArray();
            var cases = vals.Skip(1).ToArray();
            var moved = cases.Select((c, i) => Batching.MoveTo(c, caseDims[i], 0, size)).ToArray();
            var pred = vals[0];
            if (dims[0] is int pd)
            {
                pred = Batching.MoveTo(pred, pd, 0, size);
                if (pred.Rank != moved[0].Rank) pred = Lax.BroadcastInDim(pred, new Shape(moved[0].Shape.ToArray()), [0]);
            }
            else if (pred.Rank != 0) pred = Batching.Broadcast(pred, size, 0);
            return ([Conversions.SelectN.Bind1([pred, .. moved], ps)], [0]);
        });
        Batching.Def(Conversions.Clamp, (vals, dims, ps, size) =>
        {
            var x = Batching.MoveTo(vals[1], dims[1], 0, size);
            Tensor Bound(Tensor b, int? d)
            {
                if (d is null && b.Rank == 0) return b;
                var m = Batching.MoveTo(b, d, 0, size);
                return m.Shape == x.Shape ? m : Lax.BroadcastInDim(m, x.Shape, [0]);
            }
            return ([Conversions.Clamp.Bind1([Bound(vals[0], dims[0]), x, Bound(vals[2], dims[2])], ps)], [0]);
        });

        // ---- shape ----
        Batching.Def(ShapeOps.BroadcastInDim, (vals, dims, ps, size) =>
        {
            var x = Batching.MoveTo(vals[0], dims[0], 0, size);
            var p2 = ps.With("shape", new IntList([size, .. ps.Ints("shape")])).With("broadcast_dimensions", new IntList([0, .. S(ps.Ints("broadcast_dimensions"))]));
            return ([ShapeOps.BroadcastInDim.Bind1([x], p2)], [0]);
        });
        Batching.Def(ShapeOps.Reshape, (vals, dims, ps, size) =>
            ([ShapeOps.Reshape.Bind1([Batching.MoveTo(vals[0], dims[0], 0, size)], ps.With("new_sizes", new IntList([size, .. ps.Ints("new_sizes")])))], [0]));
        Batching.Def(ShapeOps.Transpose, Batching.WithLeadingBatch(ShapeOps.Transpose, ps => ps.With("permutation", new IntList([0, .. S(ps.Ints("permutation"))]))));
        Batching.Def(ShapeOps.Squeeze, Batching.WithLeadingBatch(ShapeOps.Squeeze, ps => ps.With("dimensions", new IntList(S(ps.Ints("dimensions"))))));
        Batching.Def(ShapeOps.ExpandDims, Batching.WithLeadingBatch(ShapeOps.ExpandDims, ps => ps.With("dimensions", new IntList(S(ps.Ints("dimensions"))))));
        Batching.Def(ShapeOps.Rev, Batching.WithLeadingBatch(ShapeOps.Rev, ps => ps.With("dimensions", new IntList(S(ps.Ints("dimensions"))))));
        Batching.Def(ShapeOps.Slice, (vals, dims, ps, size) =>
        {
            var x = Batching.MoveTo(vals[0], dims[0], 0, size);
            var p2 = ps.With("start_indices", new IntList([0, .. ps.Ints("start_indices")])).With("limit_indices", new IntList([size, .. ps.Ints("limit_indices")]));
            if (ps["strides"] is not null) p2 = p2.With("strides", new IntList([1, .. ps.Ints("strides")]));
            return ([ShapeOps.Slice.Bind1([x], p2)], [0]);
        });
        Batching.Def(ShapeOps.Concatenate, (vals, dims, ps, size) =>
            ([ShapeOps.Concatenate.Bind1(Batching.AllAt0(vals, dims, size), ps.With("dimension", ps.Int("dimension") + 1))], [0]));
        Batching.Def(ShapeOps.Pad, (vals, dims, ps, size) =>
        {
            var x = Batching.MoveTo(vals[0], dims[0], 0, size);
            var cfg = ps.Get<ParamList>("padding_config");
            var p2 = ps.With("padding_config", new ParamList([new IntList(0, 0, 0), .. cfg]));
            if (dims[1] is null) return ([ShapeOps.Pad.Bind1([x, vals[1]], p2)], [0]);
            // A batched padding value: pad with zeros, then add the value where the mask of padding is 1.
            var zero = Np.Zeros([], x.DType);
            var padded = ShapeOps.Pad.Bind1([x, zero], p2);
            var mask = ShapeOps.Pad.Bind1([Np.ZerosLike(x), Np.Ones([], x.DType)], p2);
            var v = Lax.BroadcastInDim(Batching.MoveTo(vals[1], dims[1], 0, size), padded.Shape, [0]);
            return ([Lax.Add(padded, Lax.Mul(mask, v))], [0]);
        });
        Batching.Def(ShapeOps.DynamicSlice, (vals, dims, ps, size) =>
        {
            var x = Batching.MoveTo(vals[0], dims[0], 0, size);
            var sizes = ps.Ints("slice_sizes");
            if (dims.Skip(1).All(d => d is null))
                return ([ShapeOps.DynamicSlice.Bind1([x, Np.Zeros([], StartType(vals[1..])), .. vals[1..]], ps.With("slice_sizes", new IntList([size, .. sizes])))], [0]);
            // An empty batch has nothing to slice (and a slice of size 1 of its empty batch dim does not exist).
            if (size == 0) return ([Np.Zeros([0, .. sizes], x.DType)], [0]);
            var idx = StackIndices(vals[1..], dims[1..], size);
            int r = x.Rank - 1;
            var gdn = new GatherDimensionNumbers(Enumerable.Range(1, r).ToArray(), [0], Enumerable.Range(0, r + 1).ToArray());
            return ([Lax.Gather(x, idx, gdn, [1, .. sizes], GatherScatterMode.Clip)], [0]);
        });
        Batching.Def(ShapeOps.DynamicUpdateSlice, (vals, dims, ps, size) =>
        {
            var x = Batching.MoveTo(vals[0], dims[0], 0, size);
            var u = Batching.MoveTo(vals[1], dims[1], 0, size);
            if (dims.Skip(2).All(d => d is null))
                return ([ShapeOps.DynamicUpdateSlice.Bind1([x, u, Np.Zeros([], StartType(vals[2..])), .. vals[2..]], ps)], [0]);
            var idx = StackIndices(vals[2..], dims[2..], size);
            int r = x.Rank - 1;
            var sdn = new ScatterDimensionNumbers(Enumerable.Range(1, r).ToArray(), [0], Enumerable.Range(0, r + 1).ToArray());
            return ([Lax.Scatter(x, idx, u, sdn, GatherScatterMode.Clip)], [0]);
        });

        // ---- reductions and scans ----
        foreach (var p in new[] { Reductions.ReduceSum, Reductions.ReduceMax, Reductions.ReduceMin, Reductions.ReduceProd, Reductions.ReduceAnd, Reductions.ReduceOr, Reductions.ArgMax, Reductions.ArgMin })
            Batching.Def(p, Batching.WithLeadingBatch(p, ps => ps.With("axes", new IntList(S(ps.Ints("axes"))))));
        foreach (var p in new[] { Reductions.Cumsum, Reductions.Cumprod, Reductions.Cummax, Reductions.Cummin })
            Batching.Def(p, Batching.WithLeadingBatch(p, ps => ps.With("axis", ps.Int("axis") + 1)));

        // ---- indexing ----
        Batching.Def(Indexing.Gather, GatherRule);
        foreach (var p in new[] { Indexing.ScatterReplace, Indexing.ScatterAdd, Indexing.ScatterMul, Indexing.ScatterMin, Indexing.ScatterMax })
            Batching.Def(p, ScatterRule(p));

        // ---- linear algebra ----
        Batching.Def(Linalg.DotGeneral, DotGeneralRule);

        // ---- collectives over other (outer) axis names pass through with the batch dim kept ----
        // The values are re-bound through Collectives.BindNamed, which routes the bind to the trace that defines the axis
        // name even when the values do not depend on it (a value only this Vmap batches is raised to that trace), as JAX
        // does; this trace's batch dim is carried through unchanged (all_gather adds a leading axis in front of it).
        foreach (var p in new[] { Collectives.Psum, Collectives.Pmax, Collectives.Pmin })
            Batching.Def(p, (vals, dims, ps, size) => ([Collectives.BindNamed(p, vals, ps.Get<string>("axis_name"), ps)[0]], [dims[0]]));
        Batching.Def(Collectives.AllGather, (vals, dims, ps, size) =>
            ([Collectives.BindNamed(Collectives.AllGather, vals, ps.Get<string>("axis_name"), ps)[0]], [dims[0] + 1]));
    }

    /// <summary>The dtype of the start index for the batch dim: that of the other starts (int32 for a rank-0 operand, which has none).</summary>
    private static DType StartType(Tensor[] starts) => starts.Length > 0 ? starts[0].DType : DType.Int32;

    /// <summary>Scalar start indices (some batched) as a (B, 1 + k) array whose first column is the batch index.</summary>
    private static Tensor StackIndices(Tensor[] idx, int?[] dims, int size)
    {
        var cols = idx.Select((v, i) => Lax.ConvertElementType(Batching.MoveTo(v, dims[i], 0, size), DType.Int32)).ToList();
        cols.Insert(0, Lax.Iota(DType.Int32, size));
        return Lax.Concatenate(cols.Select(c => Lax.ExpandDims(c, [1])).ToArray(), 1);
    }

    private static (Tensor[], int?[]) GatherRule(Tensor[] vals, int?[] dims, Params ps, int size)
    {
        var dn = ps.Get<GatherDimensionNumbers>("dimension_numbers");
        var sizes = ps.Ints("slice_sizes");
        var (x, idx) = (vals[0], vals[1]);
        if (dims[1] is null)
        {
            // Batched operand: its batch dim becomes a leading offset dim of the output.
            x = Batching.MoveTo(x, dims[0], 0, size);
            var g = new GatherDimensionNumbers([0, .. S(dn.OffsetDims.ToArray())], S(dn.CollapsedSliceDims.ToArray()), S(dn.StartIndexMap.ToArray()));
            return ([Indexing.Gather.Bind1([x, idx], ps.With("dimension_numbers", g).With("slice_sizes", new IntList([size, .. sizes])))], [0]);
        }
        if (dims[0] is null)
        {
            // Batched indices: one more leading batch dim of the output.
            idx = Batching.MoveTo(idx, dims[1], 0, size);
            var g = new GatherDimensionNumbers(S(dn.OffsetDims.ToArray()), dn.CollapsedSliceDims.ToArray(), dn.StartIndexMap.ToArray());
            return ([Indexing.Gather.Bind1([x, idx], ps.With("dimension_numbers", g))], [0]);
        }
        // Both batched: index the batch dim with an iota column.
        x = Batching.MoveTo(x, dims[0], 0, size);
        idx = Batching.MoveTo(idx, dims[1], 0, size);
        if (size == 0)
        {
            // An empty batch (as in JAX's gather batching rule): the per-example output shape, with a leading 0. The iota
            // gather below would ask for a slice of size 1 of the empty batch dim, which does not exist.
            var one = Indexing.Gather.OutputAvals([new Aval(new Shape(x.Shape.Skip(1).ToArray()), x.DType), new Aval(new Shape(idx.Shape.Skip(1).ToArray()), idx.DType)], ps)[0];
            return ([Np.Zeros([0, .. one.Shape], x.DType)], [0]);
        }
        var withIota = PrependIota(idx, size);
        var g2 = new GatherDimensionNumbers(S(dn.OffsetDims.ToArray()), [0, .. S(dn.CollapsedSliceDims.ToArray())], [0, .. S(dn.StartIndexMap.ToArray())]);
        return ([Indexing.Gather.Bind1([x, withIota], ps.With("dimension_numbers", g2).With("slice_sizes", new IntList([1, .. sizes])))], [0]);
    }

    /// <summary>Adds the batch index as the first component of every index vector of indices batched at dim 0.</summary>
    private static Tensor PrependIota(Tensor idx, int size)
    {
        var i32 = Lax.ConvertElementType(idx, DType.Int32);
        var shape = i32.Shape.ToArray();
        shape[^1] = 1;
        var iota = Lax.BroadcastedIota(DType.Int32, new Shape(shape), 0);
        return Lax.Concatenate([iota, i32], i32.Rank - 1);
    }

    private static BatchRule ScatterRule(Primitive p) => (vals, dims, ps, size) =>
    {
        var dn = ps.Get<ScatterDimensionNumbers>("dimension_numbers");
        var x = Batching.MoveTo(vals[0], dims[0], 0, size);
        if (dims[1] is null && dims[2] is null)
        {
            // Only the operand is batched: the batch dim is an extra window dim of the updates.
            var u = Batching.Broadcast(vals[2], size, 0);
            var s = new ScatterDimensionNumbers([0, .. S(dn.UpdateWindowDims.ToArray())], S(dn.InsertedWindowDims.ToArray()), S(dn.ScatterDimsToOperandDims.ToArray()));
            return ([p.Bind1([x, vals[1], u], ps.With("dimension_numbers", s))], [0]);
        }
        var idx = PrependIota(Batching.MoveTo(vals[1], dims[1], 0, size), size);
        var upd = Batching.MoveTo(vals[2], dims[2], 0, size);
        var s2 = new ScatterDimensionNumbers(S(dn.UpdateWindowDims.ToArray()), [0, .. S(dn.InsertedWindowDims.ToArray())], [0, .. S(dn.ScatterDimsToOperandDims.ToArray())]);
        return ([p.Bind1([x, idx, upd], ps.With("dimension_numbers", s2))], [0]);
    };

    /// <summary>dot_general: a batch dim on both sides becomes a dot batch dim; on one side only it is a free dim of that
    /// side — the product stays one GEMM, never a loop over examples.</summary>
    private static (Tensor[], int?[]) DotGeneralRule(Tensor[] vals, int?[] dims, Params ps, int size)
    {
        var dn = DotDimensionNumbers.FromParam(ps["dimension_numbers"]);
        var (l, r) = (vals[0], vals[1]);
        if (dims[0] is not null && dims[1] is not null)
        {
            l = Batching.MoveTo(l, dims[0], 0, size);
            r = Batching.MoveTo(r, dims[1], 0, size);
            var d2 = new DotDimensionNumbers(S(dn.LhsContract), S(dn.RhsContract), [0, .. S(dn.LhsBatch)], [0, .. S(dn.RhsBatch)]);
            return ([Linalg.DotGeneral.Bind1([l, r], ps.With("dimension_numbers", d2.ToParam()))], [0]);
        }
        if (dims[0] is int dl)
        {
            l = Batching.MoveTo(l, dl, 0, size);
            var d2 = new DotDimensionNumbers(S(dn.LhsContract), dn.RhsContract, S(dn.LhsBatch), dn.RhsBatch);
            // lhs dim 0 is its first free dim: it lands right after the batch dims.
            return ([Linalg.DotGeneral.Bind1([l, r], ps.With("dimension_numbers", d2.ToParam()))], [dn.LhsBatch.Length]);
        }
        r = Batching.MoveTo(r, dims[1], 0, size);
        var d3 = new DotDimensionNumbers(dn.LhsContract, S(dn.RhsContract), dn.LhsBatch, S(dn.RhsBatch));
        int lhsFree = Linalg.Free(l.Rank, dn.LhsContract, dn.LhsBatch).Length;
        return ([Linalg.DotGeneral.Bind1([l, r], ps.With("dimension_numbers", d3.ToParam()))], [dn.LhsBatch.Length + lhsFree]);
    }
}
