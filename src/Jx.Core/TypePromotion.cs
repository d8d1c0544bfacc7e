namespace Jx;

/// <summary>JAX's type-promotion lattice restricted to Jx's dtypes, with weak types for C# literals.
/// A weak int (i*) or weak float (f*) gives way to any typed array it meets: <c>f32 * 2 → f32</c>,
/// <c>i32 + 2.5 → weak f32</c>, <c>u32 + i32 → i64</c>, <c>i64 + f32 → f32</c>.</summary>
public static class TypePromotion
{
    // Lattice nodes: the concrete dtypes plus the weak kinds.
    private enum Node { B1, IWeak, FWeak, U32, I32, I64, BF16, F16, F32, F64 }

    private static readonly Node[][] Edges = BuildEdges();
    private static readonly HashSet<Node>[] Upper = BuildUpper();

    private static Node[][] BuildEdges()
    {
        var e = new Node[10][];
        e[(int)Node.B1] = [Node.IWeak];
        e[(int)Node.IWeak] = [Node.U32, Node.I32];
        e[(int)Node.U32] = [Node.I64];
        e[(int)Node.I32] = [Node.I64];
        e[(int)Node.I64] = [Node.FWeak];
        e[(int)Node.FWeak] = [Node.BF16, Node.F16];
        e[(int)Node.BF16] = [Node.F32];
        e[(int)Node.F16] = [Node.F32];
        e[(int)Node.F32] = [Node.F64];
        e[(int)Node.F64] = [];
        return e;
    }

    private static HashSet<Node>[] BuildUpper()
    {
        var up = new HashSet<Node>[10];
        for (int i = 0; i < 10; i++)
        {
            var set = new HashSet<Node>();
            var stack = new Stack<Node>();
            stack.Push((Node)i);
            while (stack.Count > 0)
            {
                var n = stack.Pop();
                if (!set.Add(n)) continue;
                foreach (var m in Edges[(int)n]) stack.Push(m);
            }
            up[i] = set;
        }
        return up;
    }

    private static Node ToNode(DType d, bool weak)
    {
        if (weak && d.IsFloating()) return Node.FWeak;
        if (weak && d.IsInteger()) return Node.IWeak;
        return d switch
        {
            DType.Bool => Node.B1,
            DType.UInt32 => Node.U32,
            DType.Int32 => Node.I32,
            DType.Int64 => Node.I64,
            DType.BFloat16 => Node.BF16,
            DType.Float16 => Node.F16,
            DType.Float32 => Node.F32,
            DType.Float64 => Node.F64,
            _ => throw new ArgumentOutOfRangeException(nameof(d)),
        };
    }

    private static (DType, bool) FromNode(Node n) => n switch
    {
        Node.B1 => (DType.Bool, false),
        Node.IWeak => (DType.Int32, true),
        Node.FWeak => (DType.Float32, true),
        Node.U32 => (DType.UInt32, false),
        Node.I32 => (DType.Int32, false),
        Node.I64 => (DType.Int64, false),
        Node.BF16 => (DType.BFloat16, false),
        Node.F16 => (DType.Float16, false),
        Node.F32 => (DType.Float32, false),
        Node.F64 => (DType.Float64, false),
        _ => throw new ArgumentOutOfRangeException(nameof(n)),
    };

    /// <summary>The result dtype (and weakness) of combining the given operand types, as jax.numpy.result_type does.</summary>
    /// <example><code>var (d, weak) = TypePromotion.ResultType((DType.Int32, false), (DType.Float32, true)); // (Float32, true)</code></example>
    public static (DType DType, bool Weak) ResultType(params (DType DType, bool Weak)[] types)
    {
        if (types.Length == 0) throw new InvalidArgumentError("ResultType needs at least one type");
        if (types.Length == 2 && types[0].DType == types[1].DType)
            return (types[0].DType, types[0].DType != DType.Bool && types[0].Weak && types[1].Weak);
        if (types.All(t => t.DType == types[0].DType))
        {
            // One dtype: weak only when every operand is (a weak f64 stays f64); bool is never weak.
            return (types[0].DType, types[0].DType != DType.Bool && types.All(t => t.Weak));
        }
        if (types.All(t => t.Weak))
        {
            // As JAX: the bound of the strongly typed counterparts, weak (weak f64 + weak f32 -> weak f64).
            var (sd, _) = ResultType(types.Select(t => (t.DType, false)).ToArray());
            return (sd, sd != DType.Bool);
        }
        var nodes = types.Select(t => ToNode(t.DType, t.Weak)).Distinct().ToArray();
        HashSet<Node> common = new(Upper[(int)nodes[0]]);
        for (int i = 1; i < nodes.Length; i++) common.IntersectWith(Upper[(int)nodes[i]]);
        // The least upper bound is the common node whose upper set contains all other common nodes.
        foreach (var c in common)
            if (common.All(o => Upper[(int)c].Contains(o)))
            {
                var (d, weak) = FromNode(c);
                return (d, weak);
            }
        throw new DTypeError($"no common dtype for {string.Join(", ", types.Select(t => t.DType.Name() + (t.Weak ? " (weak)" : "")))}");
    }

    public static DType Promote(DType a, DType b) => ResultType((a, false), (b, false)).DType;
}
