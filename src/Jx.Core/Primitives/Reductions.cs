using System.Numerics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Jx;

/// <summary>The combining operation of a reduction.</summary>
public enum ReduceKind { Sum, Max, Min, Prod, And, Or }

/// <summary>Reduction primitives: reduce_sum / max / min / prod / and / or over a set of axes, argmax / argmin, and the
/// cumulative scans cumsum / cumprod / cummax / cummin.</summary>
[PrimitiveFamily]
public static class Reductions
{
    private static Primitive Reduce(string name, ReduceKind kind, Elementwise.Kinds kinds) => new(
        name, "reduction",
        (ins, p) =>
        {
            Elementwise.Check(name, ins, 1);
            var x = ins[0];
            Elementwise.CheckKind(name, kinds, x);
            var axes = ShapeOps.CheckAxes(name, p.Ints("axes"), x.Rank);
            return [x with { Shape = new Shape(Enumerable.Range(0, x.Rank).Where(i => !axes.Contains(i)).Select(i => x.Shape[i]).ToArray()) }];
        },
        (xs, p, o) => [ReduceKernel(xs[0], p.Ints("axes"), kind, o[0])]);

    public static readonly Primitive ReduceSum = Reduce("reduce_sum", ReduceKind.Sum, Elementwise.Kinds.Numeric);
    public static readonly Primitive ReduceMax = Reduce("reduce_max", ReduceKind.Max, Elementwise.Kinds.Any);
    public static readonly Primitive ReduceMin = Reduce("reduce_min", ReduceKind.Min, Elementwise.Kinds.Any);
    public static readonly Primitive ReduceProd = Reduce("reduce_prod", ReduceKind.Prod, Elementwise.Kinds.Numeric);
    public static readonly Primitive ReduceAnd = Reduce("reduce_and", ReduceKind.And, Elementwise.Kinds.IntOrBool);
    public static readonly Primitive ReduceOr = Reduce("reduce_or", ReduceKind.Or, Elementwise.Kinds.IntOrBool);

    /// <summary>Brings the reduced axes to the end (copying only when needed) and reduces rows.</summary>
    internal static Tensor ReduceKernel(Tensor x, int[] axes, ReduceKind kind, Aval o)
    {
        var (src, outer, red, inner) = Arrange(x, axes);
        var b = src.Buffer!;
        Array result = src.DType switch
        {
            DType.Float32 => ReduceRows(b.Array<float>(), outer, red, inner, kind),
            DType.Float64 => ReduceRows(b.Array<double>(), outer, red, inner, kind),
            DType.Int32 => ReduceRows(b.Array<int>(), outer, red, inner, kind),
            DType.Int64 => ReduceRows(b.Array<long>(), outer, red, inner, kind),
            DType.UInt32 => ReduceRows(b.Array<uint>(), outer, red, inner, kind),
            DType.Bool => ReduceBool(b.Array<bool>(), outer, red, inner, kind),
            DType.Float16 or DType.BFloat16 => ElementwiseEngine.FromFloat(ReduceRows(ElementwiseEngine.ToFloat(b), outer, red, inner, kind), src.DType),
            _ => throw new InvalidOperationException(),
        };
        return KernelUtil.Wrap(result, o, b.Device);
    }

    /// <summary>Views x as (outer, reduced, inner) rows: without a copy when the reduced axes are one contiguous block,
    /// else after a transpose that moves them last.</summary>
    internal static (Tensor Src, int Outer, int Red, int Inner) Arrange(Tensor x, int[] axes)
    {
        var sorted = axes.OrderBy(a => a).ToArray();
        var shape = x.Shape;
        bool contiguous = sorted.Length == 0 || sorted[^1] - sorted[0] == sorted.Length - 1;
        if (contiguous)
        {
            int first = sorted.Length == 0 ? shape.Rank : sorted[0];
            int last = sorted.Length == 0 ? shape.Rank - 1 : sorted[^1];
            int outer = 1, red = 1, inner = 1;
            for (int i = 0; i < shape.Rank; i++)
            {
                if (i < first) outer *= shape[i];
                else if (i <= last) red *= shape[i];
                else inner *= shape[i];
            }
            return (x, outer, red, inner);
        }
        var keep = Enumerable.Range(0, shape.Rank).Where(i => !sorted.Contains(i)).ToArray();
        var perm = keep.Concat(sorted).ToArray();
        var st = shape.Strides();
        var newShape = perm.Select(a => shape[a]).ToArray();
        var t = KernelUtil.StridedTensor(x, 0, newShape, perm.Select(a => st[a]).ToArray(), new Aval(new Shape(newShape), x.DType));
        int o2 = keep.Aggregate(1, (acc, a) => acc * shape[a]);
        int r2 = sorted.Aggregate(1, (acc, a) => acc * shape[a]);
        return (t, o2, r2, 1);
    }

    private static T Identity<T>(ReduceKind kind) where T : INumber<T> => kind switch
    {
        ReduceKind.Sum => T.Zero,
        ReduceKind.Prod => T.One,
        ReduceKind.Max => T.CreateSaturating(double.NegativeInfinity),
        ReduceKind.Min => T.CreateSaturating(double.PositiveInfinity),
        _ => throw new InvalidOperationException(),
    };

    private static T[] ReduceRows<T>(T[] src, int outer, int red, int inner, ReduceKind kind) where T : unmanaged, INumber<T>
    {
        var dst = new T[outer * inner];
        if (kind is ReduceKind.And or ReduceKind.Or)
        {
            // Bitwise and/or over integers.
            for (int o = 0; o < outer; o++)
                for (int i = 0; i < inner; i++)
                {
                    long acc = kind == ReduceKind.And ? -1L : 0L;
                    for (int r = 0; r < red; r++)
                    {
                        long v = long.CreateTruncating(src[(o * red + r) * inner + i]);
                        acc = kind == ReduceKind.And ? acc & v : acc | v;
                    }
                    dst[o * inner + i] = T.CreateTruncating(acc);
                }
            return dst;
        }
        if (red == 0) { dst.AsSpan().Fill(Identity<T>(kind)); return dst; }
        if (inner == 1)
        {
            KernelUtil.For(outer, (s, e) =>
            {
                for (int o = s; o < e; o++)
                {
                    var row = new ReadOnlySpan<T>(src, o * red, red);
                    dst[o] = kind switch
                    {
                        ReduceKind.Sum => TP.Sum(row),
                        ReduceKind.Max => TP.Max(row),
                        ReduceKind.Min => TP.Min(row),
                        _ => TP.Product(row),
                    };
                }
            }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, red)));
            return dst;
        }
        KernelUtil.For(outer, (s, e) =>
        {
            for (int o = s; o < e; o++)
            {
                var acc = dst.AsSpan(o * inner, inner);
                src.AsSpan(o * red * inner, inner).CopyTo(acc);
                for (int r = 1; r < red; r++)
                {
                    var row = new ReadOnlySpan<T>(src, (o * red + r) * inner, inner);
                    switch (kind)
                    {
                        case ReduceKind.Sum: TP.Add(acc, row, acc); break;
                        case ReduceKind.Max: TP.Max(acc, row, acc); break;
                        case ReduceKind.Min: TP.Min(acc, row, acc); break;
                        default: TP.Multiply(acc, row, acc); break;
                    }
                }
            }
        }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, red * inner)));
        return dst;
    }

    private static bool[] ReduceBool(bool[] src, int outer, int red, int inner, ReduceKind kind)
    {
        var dst = new bool[outer * inner];
        bool and = kind is ReduceKind.And or ReduceKind.Min or ReduceKind.Prod;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                bool acc = and;
                for (int r = 0; r < red; r++)
                {
                    bool v = src[(o * red + r) * inner + i];
                    acc = and ? acc & v : acc | v;
                }
                dst[o * inner + i] = acc;
            }
        return dst;
    }

    private static Primitive Arg(string name, bool isMax) => new(
        name, "reduction",
        (ins, p) =>
        {
            Elementwise.Check(name, ins, 1);
            var x = ins[0];
            var axes = p.Ints("axes");
            if (axes.Length != 1) throw new AxisError($"'{name}' reduces exactly one axis, got {ShapeOps.Fmt(axes)}");
            ShapeOps.CheckAxes(name, axes, x.Rank);
            if (x.Shape[axes[0]] == 0) throw new ShapeError($"'{name}' of an empty axis {axes[0]} (shape {x.Shape}) has no result");
            var idt = p.DType("index_dtype");
            if (!idt.IsInteger()) throw new DTypeError($"'{name}' index_dtype must be an integer type, got {idt.Name()}");
            return [new Aval(new Shape(Enumerable.Range(0, x.Rank).Where(i => i != axes[0]).Select(i => x.Shape[i]).ToArray()), idt)];
        },
        (xs, p, o) =>
        {
            var (src, outer, red, inner) = Arrange(xs[0], p.Ints("axes"));
            var vals = src.ToDoubleArray();
            var res = new double[outer * inner];
            for (int a = 0; a < outer; a++)
                for (int i = 0; i < inner; i++)
                {
                    int best = 0;
                    double bv = vals[a * red * inner + i];
                    if (!double.IsNaN(bv))
                        for (int r = 1; r < red; r++)
                        {
                            double v = vals[(a * red + r) * inner + i];
                            if (double.IsNaN(v)) { best = r; break; }
                            if (isMax ? v > bv : v < bv) { bv = v; best = r; }
                        }
                    res[a * inner + i] = best;
                }
            return [Conversions.Convert(Tensor.Own(res, DType.Float64, o[0].Shape, xs[0].Buffer!.Device), o[0])];
        });

    /// <summary>argmax[axes=(axis,), index_dtype]: index of the first maximum (a NaN counts as the maximum).</summary>
    public static readonly Primitive ArgMax = Arg("argmax", true);
    public static readonly Primitive ArgMin = Arg("argmin", false);

    private static Primitive Cumulative(string name, ReduceKind kind) => new(
        name, "reduction",
        (ins, p) =>
        {
            Elementwise.Check(name, ins, 1);
            var x = ins[0];
            int axis = p.Int("axis");
            if (axis < 0 || axis >= x.Rank) throw new AxisError($"'{name}': axis {axis} out of range for shape {x.Shape}");
            if (x.DType == DType.Bool) throw new DTypeError($"'{name}' does not take bool operands; convert to an integer type first");
            return [x];
        },
        (xs, p, o) =>
        {
            var x = xs[0];
            int axis = p.Int("axis");
            bool reverse = p.Bool("reverse");
            int outer = 1; for (int i = 0; i < axis; i++) outer *= x.Shape[i];
            int inner = 1; for (int i = axis + 1; i < x.Rank; i++) inner *= x.Shape[i];
            int n = x.Shape[axis];
            var b = x.Buffer!;
            Array r = x.DType switch
            {
                DType.Float32 => Scan(b.Array<float>(), outer, n, inner, kind, reverse),
                DType.Float64 => Scan(b.Array<double>(), outer, n, inner, kind, reverse),
                DType.Int32 => Scan(b.Array<int>(), outer, n, inner, kind, reverse),
                DType.Int64 => Scan(b.Array<long>(), outer, n, inner, kind, reverse),
                DType.UInt32 => Scan(b.Array<uint>(), outer, n, inner, kind, reverse),
                _ => ElementwiseEngine.FromFloat(Scan(ElementwiseEngine.ToFloat(b), outer, n, inner, kind, reverse), x.DType),
            };
            return [KernelUtil.Wrap(r, o[0], b.Device)];
        });

    private static T[] Scan<T>(T[] src, int outer, int n, int inner, ReduceKind kind, bool reverse) where T : unmanaged, INumber<T>
    {
        var dst = new T[src.Length];
        for (int a = 0; a < outer; a++)
            for (int i = 0; i < inner; i++)
            {
                T acc = default;
                for (int k = 0; k < n; k++)
                {
                    int r = reverse ? n - 1 - k : k;
                    int idx = (a * n + r) * inner + i;
                    var v = src[idx];
                    if (k == 0) acc = v;
                    else acc = kind switch
                    {
                        ReduceKind.Sum => acc + v,
                        ReduceKind.Prod => acc * v,
                        ReduceKind.Max => T.IsNaN(acc) || T.IsNaN(v) ? (T.IsNaN(acc) ? acc : v) : T.Max(acc, v),
                        _ => T.IsNaN(acc) || T.IsNaN(v) ? (T.IsNaN(acc) ? acc : v) : T.Min(acc, v),
                    };
                    dst[idx] = acc;
                }
            }
        return dst;
    }

    public static readonly Primitive Cumsum = Cumulative("cumsum", ReduceKind.Sum);
    public static readonly Primitive Cumprod = Cumulative("cumprod", ReduceKind.Prod);
    public static readonly Primitive Cummax = Cumulative("cummax", ReduceKind.Max);
    public static readonly Primitive Cummin = Cumulative("cummin", ReduceKind.Min);
}
