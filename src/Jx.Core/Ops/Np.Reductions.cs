namespace Jx;

public static partial class Np
{
    /// <summary>Normalizes NumPy-style axes (negative allowed; null = all) for a rank, with an AxisError when out of range.</summary>
    public static int[] NormalizeAxes(int[]? axes, int rank, string op = "axis")
    {
        if (axes is null) return Enumerable.Range(0, rank).ToArray();
        var r = new int[axes.Length];
        for (int i = 0; i < axes.Length; i++)
        {
            int a = axes[i];
            if (a < -rank || a >= rank) throw new AxisError($"{op}: axis {a} is out of bounds for an array of rank {rank}");
            r[i] = a < 0 ? a + rank : a;
        }
        if (r.Distinct().Count() != r.Length) throw new AxisError($"{op}: repeated axis in ({string.Join(", ", axes)})");
        return r;
    }

    public static int NormalizeAxis(int axis, int rank, string op = "axis") => NormalizeAxes([axis], rank, op)[0];

    private static int[]? Ax(int? axis) => axis is null ? null : [axis.Value];

    private static Tensor KeepDims(Tensor r, Shape original, int[] axes, bool keepDims)
    {
        if (!keepDims) return r;
        var shape = original.ToArray();
        foreach (var a in axes) shape[a] = 1;
        return Lax.Reshape(r, new Shape(shape));
    }

    private static Tensor Reduce(Func<Tensor, int[], Tensor> op, Tensor x, int[]? axes, bool keepDims, string name)
    {
        var ax = NormalizeAxes(axes, x.Rank, name);
        return KeepDims(op(x, ax), x.Shape, ax, keepDims);
    }

    /// <summary>Sum over axes (all when null); bools and small ints sum as int32.</summary>
    public static Tensor Sum(Tensor x, int[]? axes = null, bool keepDims = false, DType? dtype = null)
    {
        if (dtype is not null) x = x.AsType(dtype.Value);
        else if (x.DType == DType.Bool) x = Lax.ConvertElementType(x, DType.Int32);
        return Reduce(Lax.ReduceSum, x, axes, keepDims, "Sum");
    }
    public static Tensor Sum(Tensor x, int axis, bool keepDims = false) => Sum(x, [axis], keepDims);

    public static Tensor Prod(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        if (x.DType == DType.Bool) x = Lax.ConvertElementType(x, DType.Int32);
        return Reduce(Lax.ReduceProd, x, axes, keepDims, "Prod");
    }
    public static Tensor Prod(Tensor x, int axis, bool keepDims = false) => Prod(x, [axis], keepDims);

    public static Tensor Max(Tensor x, int[]? axes = null, bool keepDims = false) => Reduce(Lax.ReduceMax, x, axes, keepDims, "Max");
    public static Tensor Max(Tensor x, int axis, bool keepDims = false) => Max(x, [axis], keepDims);
    public static Tensor Min(Tensor x, int[]? axes = null, bool keepDims = false) => Reduce(Lax.ReduceMin, x, axes, keepDims, "Min");
    public static Tensor Min(Tensor x, int axis, bool keepDims = false) => Min(x, [axis], keepDims);
    public static Tensor Amax(Tensor x, int[]? axes = null, bool keepDims = false) => Max(x, axes, keepDims);
    public static Tensor Amin(Tensor x, int[]? axes = null, bool keepDims = false) => Min(x, axes, keepDims);
    public static Tensor All(Tensor x, int[]? axes = null, bool keepDims = false) => Reduce(Lax.ReduceAnd, AsBool(x), axes, keepDims, "All");
    public static Tensor Any(Tensor x, int[]? axes = null, bool keepDims = false) => Reduce(Lax.ReduceOr, AsBool(x), axes, keepDims, "Any");

    /// <summary>Mean: a sum and a divide (integers average as float32).</summary>
    public static Tensor Mean(Tensor x, int[]? axes = null, bool keepDims = false)
    {
        var ax = NormalizeAxes(axes, x.Rank, "Mean");
        int n = ax.Aggregate(1, (acc, a) => acc * x.Shape[a]);
        var s = Sum(ToFloat(x), ax, keepDims);
        return Lax.Div(s, Full(s.Shape, n, s.DType));
    }
    public static Tensor Mean(Tensor x, int axis, bool keepDims = false) => Mean(x, [axis], keepDims);

    /// <summary>Variance with <paramref name="ddof"/> delta degrees of freedom.</summary>
    public static Tensor Var(Tensor x, int[]? axes = null, bool keepDims = false, int ddof = 0)
    {
        x = ToFloat(x);
        var ax = NormalizeAxes(axes, x.Rank, "Var");
        int n = ax.Aggregate(1, (acc, a) => acc * x.Shape[a]);
        var centered = Subtract(x, Mean(x, ax, keepDims: true));
        var ss = Sum(Lax.Square(centered), ax, keepDims);
        return Lax.Div(ss, Full(ss.Shape, Math.Max(0, n - ddof), ss.DType));
    }
    public static Tensor Var(Tensor x, int axis, bool keepDims = false, int ddof = 0) => Var(x, [axis], keepDims, ddof);
    public static Tensor Std(Tensor x, int[]? axes = null, bool keepDims = false, int ddof = 0) => Lax.Sqrt(Var(x, axes, keepDims, ddof));
    public static Tensor Std(Tensor x, int axis, bool keepDims = false, int ddof = 0) => Std(x, [axis], keepDims, ddof);

    /// <summary>Index of the maximum along axis (of the flattened array when axis is null).</summary>
    public static Tensor Argmax(Tensor x, int? axis = null, bool keepDims = false)
    {
        if (axis is null) return Lax.ArgMax(Ravel(x), 0);
        int a = NormalizeAxis(axis.Value, x.Rank, "Argmax");
        return KeepDims(Lax.ArgMax(x, a), x.Shape, [a], keepDims);
    }
    public static Tensor Argmin(Tensor x, int? axis = null, bool keepDims = false)
    {
        if (axis is null) return Lax.ArgMin(Ravel(x), 0);
        int a = NormalizeAxis(axis.Value, x.Rank, "Argmin");
        return KeepDims(Lax.ArgMin(x, a), x.Shape, [a], keepDims);
    }

    public static Tensor Cumsum(Tensor x, int? axis = null)
    {
        if (axis is null) { x = Ravel(x); axis = 0; }
        if (x.DType == DType.Bool) x = Lax.ConvertElementType(x, DType.Int32);
        return Lax.Cumsum(x, NormalizeAxis(axis.Value, x.Rank, "Cumsum"));
    }
    public static Tensor Cumprod(Tensor x, int? axis = null)
    {
        if (axis is null) { x = Ravel(x); axis = 0; }
        if (x.DType == DType.Bool) x = Lax.ConvertElementType(x, DType.Int32);
        return Lax.Cumprod(x, NormalizeAxis(axis.Value, x.Rank, "Cumprod"));
    }
    public static Tensor CumMax(Tensor x, int axis = 0) => Lax.Cummax(x, NormalizeAxis(axis, x.Rank, "CumMax"));
}
