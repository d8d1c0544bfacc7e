using System.Numerics;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Jx;

/// <summary>The eager kernel of reduce_window_sum / max / min. A window is a product of per-dimension tap sets and the
/// padding value is the reduction's identity, so the N-d windowed reduction is computed as one 1-d pass per windowed
/// dimension (dimensions with a trivial window are skipped); each pass reduces whole rows with TensorPrimitives.
/// float16 and bfloat16 run in float32, bool max/min run on 0/1 integers.</summary>
internal static class ReduceWindowKernel
{
    public static Tensor Run(Tensor x, WindowGeometry g, ReduceKind kind, Aval o)
    {
        var b = x.Buffer!;
        if (o.Size == 0) return KernelUtil.Wrap(KernelUtil.NewArray(o.DType, 0), o, b.Device);
        var shape = x.Shape.ToArray();
        Array r = x.DType switch
        {
            DType.Float32 => Passes(b.Array<float>(), shape, g, kind),
            DType.Float64 => Passes(b.Array<double>(), shape, g, kind),
            DType.Int32 => Passes(b.Array<int>(), shape, g, kind),
            DType.Int64 => Passes(b.Array<long>(), shape, g, kind),
            DType.UInt32 => Passes(b.Array<uint>(), shape, g, kind),
            DType.Float16 or DType.BFloat16 => ElementwiseEngine.FromFloat(Passes(ElementwiseEngine.ToFloat(b), shape, g, kind), x.DType),
            DType.Bool => Passes(b.Array<bool>().Select(v => v ? 1 : 0).ToArray(), shape, g, kind).Select(v => v > 0).ToArray(),
            _ => throw new InvalidOperationException(),
        };
        return KernelUtil.Wrap(r, o, b.Device);
    }

    private static T Identity<T>(ReduceKind kind) where T : INumber<T> => kind switch
    {
        ReduceKind.Sum => T.Zero,
        ReduceKind.Max => T.CreateSaturating(double.NegativeInfinity),
        ReduceKind.Min => T.CreateSaturating(double.PositiveInfinity),
        _ => throw new InvalidOperationException(),
    };

    private static T[] Passes<T>(T[] src, int[] shape, WindowGeometry g, ReduceKind kind) where T : unmanaged, INumber<T>
    {
        var cur = src;
        var curShape = (int[])shape.Clone();
        for (int d = 0; d < shape.Length; d++)
        {
            bool trivial = g.Dims[d] == 1 && g.Strides[d] == 1 && g.Padding[d] == (0, 0) && g.BaseDilation[d] == 1;
            if (trivial) continue;
            cur = Pass(cur, curShape, d, g.Dims[d], g.Strides[d], g.Padding[d].Lo, g.BaseDilation[d], g.WindowDilation[d], g.OutShape[d], kind);
            curShape[d] = g.OutShape[d];
        }
        return cur;
    }

    /// <summary>Reduces dimension d of a (outer, n, inner) array to (outer, m, inner).</summary>
    private static T[] Pass<T>(T[] src, int[] shape, int d, int window, int stride, int lo, int baseDilation, int windowDilation, int m, ReduceKind kind)
        where T : unmanaged, INumber<T>
    {
        int outer = 1, inner = 1;
        for (int i = 0; i < d; i++) outer *= shape[i];
        for (int i = d + 1; i < shape.Length; i++) inner *= shape[i];
        int n = shape[d];
        var table = ConvKernel.AxisTable(n, m, window, stride, lo, baseDilation, windowDilation);
        var dst = new T[outer * m * inner];
        var init = Identity<T>(kind);
        KernelUtil.For(outer * m, (s, e) =>
        {
            for (int r = s; r < e; r++)
            {
                int o = r / m, y = r % m;
                var acc = dst.AsSpan(r * inner, inner);
                acc.Fill(init);
                for (int k = 0; k < window; k++)
                {
                    int t = table[y * window + k];
                    if (t < 0) continue;
                    var row = new ReadOnlySpan<T>(src, (o * n + t) * inner, inner);
                    switch (kind)
                    {
                        case ReduceKind.Sum: TP.Add(acc, row, acc); break;
                        case ReduceKind.Max: TP.Max(acc, row, acc); break;
                        default: TP.Min(acc, row, acc); break;
                    }
                }
            }
        }, Math.Max(1, KernelUtil.ParallelThreshold / Math.Max(1, inner * window)));
        return dst;
    }
}
