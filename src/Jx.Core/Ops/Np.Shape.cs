namespace Jx;

public static partial class Np
{
    /// <summary>Reshape; one dimension may be -1 and is inferred.</summary>
    public static Tensor Reshape(Tensor x, params int[] shape)
    {
        int infer = System.Array.IndexOf(shape, -1);
        if (infer >= 0)
        {
            if (shape.Count(d => d == -1) > 1) throw new ShapeError($"Reshape: only one dimension can be -1, got ({string.Join(", ", shape)})");
            int known = shape.Where(d => d != -1).Aggregate(1, (a, b) => a * b);
            if (known == 0 || x.Size % known != 0)
                throw new ShapeError($"cannot reshape array of shape {x.Shape} (size {x.Size}) into shape ({string.Join(", ", shape)})");
            shape = (int[])shape.Clone();
            shape[infer] = x.Size / known;
        }
        return Lax.Reshape(x, new Shape(shape));
    }

    public static Tensor Ravel(Tensor x) => Lax.Reshape(x, new Shape(x.Size));

    /// <summary>Permutes axes; reverses them when none are given.</summary>
    public static Tensor Transpose(Tensor x, int[]? axes = null) =>
        Lax.Transpose(x, axes is null ? Enumerable.Range(0, x.Rank).Reverse().ToArray() : NormalizeAxes(axes, x.Rank, "Transpose"));

    public static Tensor SwapAxes(Tensor x, int a, int b)
    {
        var perm = Enumerable.Range(0, x.Rank).ToArray();
        a = NormalizeAxis(a, x.Rank, "SwapAxes"); b = NormalizeAxis(b, x.Rank, "SwapAxes");
        (perm[a], perm[b]) = (perm[b], perm[a]);
        return Lax.Transpose(x, perm);
    }

    public static Tensor MoveAxis(Tensor x, int source, int destination)
    {
        source = NormalizeAxis(source, x.Rank, "MoveAxis");
        destination = NormalizeAxis(destination, x.Rank, "MoveAxis");
        var perm = Enumerable.Range(0, x.Rank).Where(i => i != source).ToList();
        perm.Insert(destination, source);
        return Lax.Transpose(x, perm.ToArray());
    }

    public static Tensor ExpandDims(Tensor x, int axis) => Lax.ExpandDims(x, [NormalizeAxis(axis, x.Rank + 1, "ExpandDims")]);

    public static Tensor Squeeze(Tensor x, int[]? axes = null)
    {
        var ax = axes is null ? Enumerable.Range(0, x.Rank).Where(i => x.Shape[i] == 1).ToArray() : NormalizeAxes(axes, x.Rank, "Squeeze");
        return Lax.Squeeze(x, ax);
    }

    public static Tensor Concatenate(Tensor[] xs, int axis = 0)
    {
        if (xs.Length == 0) throw new InvalidArgumentError("Concatenate needs at least one array");
        var p = PromoteDTypes(xs);
        return Lax.Concatenate(p, NormalizeAxis(axis, xs[0].Rank, "Concatenate"));
    }

    /// <summary>Stacks arrays of one shape along a new axis.</summary>
    public static Tensor Stack(Tensor[] xs, int axis = 0)
    {
        if (xs.Length == 0) throw new InvalidArgumentError("Stack needs at least one array");
        foreach (var x in xs)
            if (x.Shape != xs[0].Shape) throw new ShapeError($"Stack needs arrays of one shape, got {string.Join(", ", xs.Select(t => t.Shape.ToString()))}");
        int a = NormalizeAxis(axis, xs[0].Rank + 1, "Stack");
        return Concatenate(xs.Select(x => Lax.ExpandDims(x, [a])).ToArray(), a);
    }

    public static Tensor VStack(Tensor[] xs) => Concatenate(xs.Select(x => x.Rank == 1 ? Lax.ExpandDims(x, [0]) : x).ToArray(), 0);
    public static Tensor HStack(Tensor[] xs) => Concatenate(xs, xs[0].Rank == 1 ? 0 : 1);

    /// <summary>Splits into <paramref name="sections"/> equal parts along axis.</summary>
    public static Tensor[] Split(Tensor x, int sections, int axis = 0)
    {
        axis = NormalizeAxis(axis, x.Rank, "Split");
        int n = x.Shape[axis];
        if (sections <= 0 || n % sections != 0)
            throw new ShapeError($"Split: array split does not result in an equal division ({n} along axis {axis} into {sections} sections)");
        int size = n / sections;
        return Enumerable.Range(0, sections).Select(i => Lax.SliceInDim(x, i * size, (i + 1) * size, 1, axis)).ToArray();
    }

    /// <summary>Splits at the given indices along axis.</summary>
    public static Tensor[] Split(Tensor x, int[] indices, int axis = 0)
    {
        axis = NormalizeAxis(axis, x.Rank, "Split");
        int n = x.Shape[axis];
        var bounds = new List<int> { 0 };
        bounds.AddRange(indices.Select(i => Math.Clamp(i < 0 ? i + n : i, 0, n)));
        bounds.Add(n);
        return Enumerable.Range(0, bounds.Count - 1).Select(i => Lax.SliceInDim(x, bounds[i], Math.Max(bounds[i], bounds[i + 1]), 1, axis)).ToArray();
    }

    /// <summary>Repeats the whole array reps times along each axis (numpy.tile): x is first given leading 1s up to
    /// len(reps), and reps leading 1s up to x's rank.</summary>
    /// <example><code>Np.Tile(Np.Array(new[] { 1f, 2f }), 2, 3)   // shape (2, 6): [[1, 2, 1, 2, 1, 2], [1, 2, 1, 2, 1, 2]]</code></example>
    public static Tensor Tile(Tensor x, params int[] reps)
    {
        if (reps.Any(r => r < 0)) throw new InvalidArgumentError($"Tile: reps must be >= 0, got ({string.Join(", ", reps)}) for an array of shape {x.Shape}");
        int rank = Math.Max(x.Rank, reps.Length);
        var cur = rank == x.Rank ? x : Lax.Reshape(x, new Shape(Enumerable.Repeat(1, rank - x.Rank).Concat(x.Shape).ToArray()));
        var r = Enumerable.Repeat(1, rank - reps.Length).Concat(reps).ToArray();
        // One axis at a time: broadcast (.., s_i, ..) to (.., r_i, s_i, ..) and merge the pair, so no intermediate has a
        // rank above rank(result) + 1 (interleaving every axis at once would double the rank, past Jx's maximum under Vmap).
        for (int i = 0; i < rank; i++)
        {
            if (r[i] == 1) continue;
            var shape = cur.Shape.ToArray();
            var inter = shape.Take(i).Append(r[i]).Concat(shape.Skip(i)).ToArray();
            var dims = Enumerable.Range(0, rank).Select(d => d < i ? d : d + 1).ToArray();
            var b = Lax.BroadcastInDim(cur, new Shape(inter), dims);
            shape[i] *= r[i];
            cur = Lax.Reshape(b, new Shape(shape));
        }
        return cur;
    }

    /// <summary>Repeats each element <paramref name="repeats"/> times along axis (flattened when axis is null).</summary>
    public static Tensor Repeat(Tensor x, int repeats, int? axis = null)
    {
        if (repeats < 0) throw new InvalidArgumentError($"Repeat: repeats must be >= 0, got {repeats}");
        if (axis is null) { x = Ravel(x); axis = 0; }
        int a = NormalizeAxis(axis.Value, x.Rank, "Repeat");
        var shape = x.Shape.ToArray();
        var inter = shape.Take(a + 1).Append(repeats).Concat(shape.Skip(a + 1)).ToArray();
        var dims = Enumerable.Range(0, x.Rank).Select(i => i <= a ? i : i + 1).ToArray();
        var b = Lax.BroadcastInDim(x, new Shape(inter), dims);
        shape[a] *= repeats;
        return Lax.Reshape(b, new Shape(shape));
    }

    public static Tensor Flip(Tensor x, int[]? axes = null) => Lax.Rev(x, NormalizeAxes(axes, x.Rank, "Flip"));

    /// <summary>Upper triangle: elements below diagonal k are zeroed.</summary>
    public static Tensor Triu(Tensor x, int k = 0) => TriMask(x, k, upper: true);
    /// <summary>Lower triangle: elements above diagonal k are zeroed.</summary>
    public static Tensor Tril(Tensor x, int k = 0) => TriMask(x, k, upper: false);

    private static Tensor TriMask(Tensor x, int k, bool upper)
    {
        if (x.Rank < 2) throw new ShapeError($"{(upper ? "Triu" : "Tril")} needs an array of rank >= 2, got shape {x.Shape}");
        var s = new Shape(x.Shape[^2], x.Shape[^1]);
        var rows = Lax.BroadcastedIota(DType.Int32, s, 0);
        var cols = Lax.BroadcastedIota(DType.Int32, s, 1);
        var diff = Lax.Sub(cols, rows);
        var kk = Full(s, k, DType.Int32);
        var mask = upper ? Lax.Ge(diff, kk) : Lax.Le(diff, kk);
        var b = BroadcastArrays(mask, x);
        return Lax.Select(b[0], b[1], ZerosLike(b[1]));
    }

    /// <summary>Pads with a constant: one (before, after) pair per axis.</summary>
    public static Tensor Pad(Tensor x, (int Before, int After)[] padWidth, double constantValue = 0)
    {
        if (padWidth.Length == 1 && x.Rank > 1) padWidth = Enumerable.Repeat(padWidth[0], x.Rank).ToArray();
        if (padWidth.Length != x.Rank) throw new ShapeError($"Pad: {padWidth.Length} pad widths for an array of rank {x.Rank}");
        if (padWidth.Any(p => p.Before < 0 || p.After < 0)) throw new InvalidArgumentError("Pad: pad widths must be >= 0");
        return Lax.Pad(x, Lax.ConvertElementType(Tensor.Scalar(constantValue), x.DType), padWidth.Select(p => (p.Before, p.After, 0)).ToArray());
    }

    public static Tensor AtLeast1D(Tensor x) => x.Rank == 0 ? Lax.Reshape(x, new Shape(1)) : x;
    public static Tensor AtLeast2D(Tensor x) => x.Rank >= 2 ? x : Lax.Reshape(x, new Shape(1, x.Size));
}
