namespace Jx;

public static partial class Np
{
    /// <summary>lax.dot_general with promotion of the operands.</summary>
    public static Tensor DotGeneral(Tensor a, Tensor b, DotDimensionNumbers dims, DType? preferredElementType = null)
    {
        var p = PromoteDTypes(a, b);
        var ps = Params.Of(("dimension_numbers", dims.ToParam()), ("precision", null), ("preferred_element_type", preferredElementType ?? p[0].DType));
        return Linalg.DotGeneral.Bind1([p[0], p[1]], ps);
    }

    /// <summary>NumPy matmul: 1-D operands are promoted to matrices; leading (batch) dims broadcast.</summary>
    public static Tensor Matmul(Tensor a, Tensor b)
    {
        if (a.Rank == 0 || b.Rank == 0) throw new ShapeError($"Matmul does not take scalars (shapes {a.Shape} and {b.Shape}); use Multiply");
        bool aVec = a.Rank == 1, bVec = b.Rank == 1;
        if (aVec) a = Lax.Reshape(a, new Shape(1, a.Shape[0]));
        if (bVec) b = Lax.Reshape(b, new Shape(b.Shape[0], 1));
        if (a.Shape[^1] != b.Shape[^2])
            throw new ShapeError($"Matmul: contraction dimensions differ: {a.Shape} @ {b.Shape} ({a.Shape[^1]} vs {b.Shape[^2]})");
        Tensor r;
        if (b.Rank == 2)
        {
            // Leading dims of a are free dims: no batching needed.
            r = DotGeneral(a, b, new([a.Rank - 1], [0], [], []));
        }
        else
        {
            var batch = BroadcastShapes(new Shape(a.Shape.Take(a.Rank - 2).ToArray()), new Shape(b.Shape.Take(b.Rank - 2).ToArray()));
            a = BroadcastTo(a, new Shape([.. batch, a.Shape[^2], a.Shape[^1]]));
            b = BroadcastTo(b, new Shape([.. batch, b.Shape[^2], b.Shape[^1]]));
            var bd = Enumerable.Range(0, batch.Rank).ToArray();
            r = DotGeneral(a, b, new([a.Rank - 1], [b.Rank - 2], bd, bd));
        }
        if (aVec) r = Lax.Squeeze(r, [r.Rank - 2]);
        if (bVec) r = Lax.Squeeze(r, [r.Rank - 1]);
        return r;
    }

    /// <summary>NumPy dot: inner product of vectors, matmul of matrices, sum over a's last and b's second-to-last axis otherwise.</summary>
    public static Tensor Dot(Tensor a, Tensor b)
    {
        if (a.Rank == 0 || b.Rank == 0) return Multiply(a, b);
        int bc = b.Rank == 1 ? 0 : b.Rank - 2;
        if (a.Shape[^1] != b.Shape[bc]) throw new ShapeError($"Dot: shapes {a.Shape} and {b.Shape} not aligned ({a.Shape[^1]} vs {b.Shape[bc]})");
        return DotGeneral(a, b, new([a.Rank - 1], [bc], [], []));
    }

    /// <summary>Dot product of flattened vectors.</summary>
    public static Tensor Vdot(Tensor a, Tensor b) => Dot(Ravel(a), Ravel(b));

    /// <summary>Sum over the last axes of both.</summary>
    public static Tensor Inner(Tensor a, Tensor b) =>
        a.Rank == 0 || b.Rank == 0 ? Multiply(a, b) : DotGeneral(a, b, new([a.Rank - 1], [b.Rank - 1], [], []));

    /// <summary>Outer product of flattened vectors: result[i, j] = a[i]·b[j].</summary>
    public static Tensor Outer(Tensor a, Tensor b) => Multiply(Lax.Reshape(Ravel(a), new Shape(a.Size, 1)), Lax.Reshape(Ravel(b), new Shape(1, b.Size)));

    /// <summary>Sums products over the last <paramref name="axes"/> axes of a and the first of b.</summary>
    public static Tensor Tensordot(Tensor a, Tensor b, int axes = 2) =>
        DotGeneral(a, b, new(Enumerable.Range(a.Rank - axes, axes).ToArray(), Enumerable.Range(0, axes).ToArray(), [], []));

    public static Tensor Tensordot(Tensor a, Tensor b, int[] aAxes, int[] bAxes) =>
        DotGeneral(a, b, new(NormalizeAxes(aAxes, a.Rank, "Tensordot"), NormalizeAxes(bAxes, b.Rank, "Tensordot"), [], []));

    /// <summary>Einstein summation over one or more operands, e.g. "ij,jk->ik", "bij,bjk->bik", "i,i->", "ij->ji".
    /// Pairs contract through dot_general; letters used by one operand only are summed first. Repeated letters within
    /// one operand (diagonals) are not supported.</summary>
    public static Tensor Einsum(string subscripts, params Tensor[] operands)
    {
        var spec = subscripts.Replace(" ", "");
        string[] ins;
        string output;
        if (spec.Contains("->"))
        {
            var parts = spec.Split("->");
            ins = parts[0].Split(',');
            output = parts[1];
        }
        else
        {
            ins = spec.Split(',');
            var counts = string.Concat(ins).GroupBy(c => c).Where(g => g.Count() == 1).Select(g => g.Key).OrderBy(c => c);
            output = string.Concat(counts);
        }
        if (ins.Length != operands.Length)
            throw new InvalidArgumentError($"Einsum '{subscripts}' names {ins.Length} operands, got {operands.Length}");
        for (int i = 0; i < ins.Length; i++)
        {
            if (ins[i].Length != operands[i].Rank)
                throw new ShapeError($"Einsum '{subscripts}': operand {i} has rank {operands[i].Rank} but subscripts '{ins[i]}'");
            if (ins[i].Distinct().Count() != ins[i].Length)
                throw new InvalidArgumentError($"Einsum '{subscripts}': repeated subscripts within one operand ('{ins[i]}') are not supported");
        }
        var terms = ins.Zip(operands, (s, t) => (Sub: s, T: t)).ToList();
        // Sum letters that occur in one operand only and not in the output or other operands.
        for (int i = 0; i < terms.Count; i++)
        {
            var others = string.Concat(terms.Where((_, j) => j != i).Select(t => t.Sub)) + output;
            var drop = terms[i].Sub.Where(c => !others.Contains(c)).ToArray();
            if (drop.Length > 0)
            {
                var axes = drop.Select(c => terms[i].Sub.IndexOf(c)).ToArray();
                terms[i] = (new string(terms[i].Sub.Where(c => !drop.Contains(c)).ToArray()), Lax.ReduceSum(terms[i].T, axes));
            }
        }
        while (terms.Count > 1)
        {
            var (ls, lt) = terms[0];
            var (rs, rt) = terms[1];
            var rest = string.Concat(terms.Skip(2).Select(t => t.Sub)) + output;
            var shared = ls.Where(rs.Contains).ToArray();
            var batch = shared.Where(rest.Contains).ToArray();
            var contract = shared.Where(c => !rest.Contains(c)).ToArray();
            var dn = new DotDimensionNumbers(contract.Select(c => ls.IndexOf(c)).ToArray(), contract.Select(c => rs.IndexOf(c)).ToArray(),
                batch.Select(c => ls.IndexOf(c)).ToArray(), batch.Select(c => rs.IndexOf(c)).ToArray());
            foreach (var c in shared)
                if (lt.Shape[ls.IndexOf(c)] != rt.Shape[rs.IndexOf(c)])
                    throw new ShapeError($"Einsum '{subscripts}': size of '{c}' differs: {lt.Shape[ls.IndexOf(c)]} vs {rt.Shape[rs.IndexOf(c)]}");
            var res = DotGeneral(lt, rt, dn);
            var resSub = new string(batch) + new string(ls.Where(c => !shared.Contains(c)).ToArray()) + new string(rs.Where(c => !shared.Contains(c)).ToArray());
            terms.RemoveRange(0, 2);
            terms.Insert(0, (resSub, res));
        }
        var (fs, ft) = terms[0];
        foreach (var c in output)
            if (!fs.Contains(c)) throw new InvalidArgumentError($"Einsum '{subscripts}': output subscript '{c}' does not occur in the inputs");
        var sumAxes = fs.Select((c, i) => (c, i)).Where(p => !output.Contains(p.c)).Select(p => p.i).ToArray();
        if (sumAxes.Length > 0) { ft = Lax.ReduceSum(ft, sumAxes); fs = new string(fs.Where(output.Contains).ToArray()); }
        return Lax.Transpose(ft, output.Select(c => fs.IndexOf(c)).ToArray());
    }

    /// <summary>Sum of the main diagonal of a matrix.</summary>
    public static Tensor Trace(Tensor x)
    {
        if (x.Rank != 2) throw new ShapeError($"Trace needs a matrix, got shape {x.Shape}");
        return Sum(Multiply(x, Eye(x.Shape[0], x.Shape[1], 0, x.DType)));
    }
}
