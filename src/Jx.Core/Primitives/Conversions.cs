using System.Runtime.Intrinsics;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Jx;

/// <summary>Elementwise primitives that select or change types: select_n, clamp, convert_element_type,
/// bitcast_convert_type.</summary>
[PrimitiveFamily]
public static class Conversions
{
    /// <summary>select_n(which, *cases): cases[which] elementwise; <c>which</c> is bool (2 cases) or int32, of the cases'
    /// shape or a scalar. <c>Np.Where(c, x, y)</c> is select_n(c, y, x).</summary>
    public static readonly Primitive SelectN = new("select_n", "elementwise",
        (ins, p) =>
        {
            if (ins.Length < 2) throw new InvalidArgumentError("select_n needs a predicate and at least one case");
            var which = ins[0];
            var cases = ins[1..];
            Elementwise.CheckSame("select_n", cases);
            if (which.DType != DType.Bool && which.DType != DType.Int32)
                throw new DTypeError($"select_n's predicate must be bool or int32, got {which.DType.Name()}");
            if (which.DType == DType.Bool && cases.Length > 2)
                throw new DTypeError($"select_n with a bool predicate takes at most 2 cases, got {cases.Length}");
            if (which.Rank != 0 && which.Shape != cases[0].Shape)
                throw new ShapeError($"select_n's predicate must be a scalar or have the cases' shape {cases[0].Shape}, got {which.Shape}");
            return [cases[0] with { Weak = Elementwise.AllWeak(cases) }];
        },
        (xs, p, o) =>
        {
            var pred = xs[0].Buffer!;
            int n = o[0].Size;
            if (pred.DType == DType.Bool && xs.Length == 3)
                return [KernelUtil.Wrap(Select2(pred, xs[1].Buffer!, xs[2].Buffer!, n), o[0], pred.Device)];
            var idx = new int[n];
            if (pred.DType == DType.Bool) { var pb = pred.Array<bool>(); for (int i = 0; i < n; i++) idx[i] = pb[pb.Length == 1 ? 0 : i] ? 1 : 0; }
            else { var pi = pred.Array<int>(); for (int i = 0; i < n; i++) idx[i] = Math.Clamp(pi[pi.Length == 1 ? 0 : i], 0, xs.Length - 2); }
            var cases = xs[1..].Select(c => c.Buffer!).ToArray();
            var arr = KernelUtil.Visit(cases[0], new SelectFunc(idx, cases));
            return [KernelUtil.Wrap(arr, o[0], pred.Device)];
        });

    /// <summary>The common two-case select with a bool predicate: one pass, splat operands (the zeros of a derivative)
    /// read as scalars rather than expanded, in parallel for large arrays.</summary>
    private static Array Select2(Buffer pred, Buffer onFalse, Buffer onTrue, int n) => onFalse.DType switch
    {
        DType.Bool => Select2<bool>(pred, onFalse, onTrue, n),
        DType.Int32 => Select2<int>(pred, onFalse, onTrue, n),
        DType.Int64 => Select2<long>(pred, onFalse, onTrue, n),
        DType.UInt32 => Select2<uint>(pred, onFalse, onTrue, n),
        DType.Float16 => Select2<Half>(pred, onFalse, onTrue, n),
        DType.BFloat16 => Select2<BFloat16>(pred, onFalse, onTrue, n),
        DType.Float32 => Select2<float>(pred, onFalse, onTrue, n),
        DType.Float64 => Select2<double>(pred, onFalse, onTrue, n),
        _ => throw new InvalidOperationException(),
    };

    private static T[] Select2<T>(Buffer pred, Buffer onFalse, Buffer onTrue, int n) where T : struct
    {
        var pb = ElementwiseEngine.Operand<bool>(pred);
        var f = ElementwiseEngine.Operand<T>(onFalse);
        var t = ElementwiseEngine.Operand<T>(onTrue);
        var dst = GC.AllocateUninitializedArray<T>(n);
        if (n == 0) return dst;
        if (typeof(T) == typeof(float) && pb.Length == n && System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            var fd = (float[])(object)f; var td = (float[])(object)t; var dd = (float[])(object)dst;
            KernelUtil.For(n, (s, e) => SelectFloat(pb, fd, td, dd, s, e));
            return dst;
        }
        KernelUtil.For(n, (s, e) =>
        {
            bool pOne = pb.Length == 1, fOne = f.Length == 1, tOne = t.Length == 1;
            for (int i = s; i < e; i++)
                dst[i] = pb[pOne ? 0 : i] ? t[tOne ? 0 : i] : f[fOne ? 0 : i];
        });
        return dst;
    }

    /// <summary>float32 select over [s, e): 16 predicate bytes widen to a lane mask, so the choice is branch-free (a
    /// data-dependent branch per element mispredicts half the time on real predicates such as relu's).</summary>
    private static unsafe void SelectFloat(bool[] pred, float[] onFalse, float[] onTrue, float[] dst, int s, int e)
    {
        bool fOne = onFalse.Length == 1, tOne = onTrue.Length == 1;
        fixed (bool* pp = pred)
        fixed (float* pf = onFalse, pt = onTrue, pd = dst)
        {
            int i = s;
            var f1 = Vector512.Create(pf[0]);
            var t1 = Vector512.Create(pt[0]);
            for (; i + 16 <= e; i += 16)
            {
                var mask = System.Runtime.Intrinsics.X86.Avx512F.ConvertToVector512Int32(Vector128.Load((byte*)pp + i));
                var fv = fOne ? f1 : Vector512.Load(pf + i);
                var tv = tOne ? t1 : Vector512.Load(pt + i);
                Vector512.Store(Vector512.ConditionalSelect(Vector512.GreaterThan(mask, Vector512<int>.Zero).AsSingle(), tv, fv), pd + i);
            }
            for (; i < e; i++) pd[i] = pp[i] ? pt[tOne ? 0 : i] : pf[fOne ? 0 : i];
        }
    }

    private sealed class SelectFunc(int[] idx, Buffer[] cases) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] first) where T : unmanaged
        {
            var srcs = cases.Select(c => c.Array<T>()).ToArray();
            var dst = new T[idx.Length];
            for (int i = 0; i < dst.Length; i++) dst[i] = srcs[idx[i]][i];
            return dst;
        }
    }

    /// <summary>clamp(min, x, max): min and max are scalars or of x's shape.</summary>
    public static readonly Primitive Clamp = new("clamp", "elementwise",
        (ins, p) =>
        {
            Elementwise.Check("clamp", ins, 3);
            var (lo, x, hi) = (ins[0], ins[1], ins[2]);
            foreach (var b in new[] { lo, hi })
            {
                if (b.DType != x.DType) throw new DTypeError($"clamp requires min, x and max of one dtype, got {lo.DType.Name()}, {x.DType.Name()}, {hi.DType.Name()}");
                if (b.Rank != 0 && b.Shape != x.Shape) throw new ShapeError($"clamp's min and max must be scalars or of x's shape {x.Shape}, got {lo.Shape} and {hi.Shape}");
            }
            if (x.DType == DType.Bool) throw new DTypeError("clamp does not take bool operands");
            return [x with { Weak = Elementwise.AllWeak(ins) }];
        },
        (xs, p, o) =>
        {
            int n = o[0].Size;
            var arr = KernelUtil.Visit(xs[1].Buffer!, new ClampFunc(xs[0].Buffer!, xs[2].Buffer!));
            return [KernelUtil.Wrap(arr, o[0], xs[1].Buffer!.Device)];
        });

    /// <summary>clamp = min(max(x, lo), hi) with NaN-propagating max and min, as XLA: a NaN operand or bound gives NaN.</summary>
    private sealed class ClampFunc(Buffer lo, Buffer hi) : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] x) where T : unmanaged
        {
            var l = lo.Array<T>();
            var h = hi.Array<T>();
            var dst = new T[x.Length];
            var cmp = Comparer<T>.Default;
            for (int i = 0; i < x.Length; i++)
            {
                var v = x[i];
                var li = l[l.Length == 1 ? 0 : i];
                var hi2 = h[h.Length == 1 ? 0 : i];
                if (IsNaN(v)) { dst[i] = v; continue; }
                if (IsNaN(li)) { dst[i] = li; continue; }
                if (cmp.Compare(v, li) < 0) v = li;
                if (IsNaN(hi2)) { dst[i] = hi2; continue; }
                if (cmp.Compare(v, hi2) > 0) v = hi2;
                dst[i] = v;
            }
            return dst;
        }

        private static bool IsNaN<T>(T v) => v switch
        {
            float f => float.IsNaN(f),
            double d => double.IsNaN(d),
            Half h => Half.IsNaN(h),
            BFloat16 b => float.IsNaN((float)b),
            _ => false,
        };
    }

    /// <summary>convert_element_type[new_dtype, weak_type]: float→int truncates toward zero and saturates (NaN→0),
    /// int→int wraps, x→bool is x != 0, as XLA does.</summary>
    public static readonly Primitive ConvertElementType = new("convert_element_type", "elementwise",
        (ins, p) => { Elementwise.Check("convert_element_type", ins, 1); return [new Aval(ins[0].Shape, p.DType("new_dtype"), p.Bool("weak_type"))]; },
        (xs, p, o) => [Convert(xs[0], o[0])]);

    internal static Tensor Convert(Tensor x, Aval o)
    {
        var b = x.Buffer!;
        if (b.DType == o.DType) return new Tensor(b, o.Shape, o.Weak);
        if (b.Length == 0) return KernelUtil.Wrap(KernelUtil.NewArray(o.DType, 0), o, b.Device);
        if (b.IsSplat || b.Length == 1)
        {
            // Scalars and splats convert one value; an exact literal keeps its double precision.
            var single = x.ExactLiteral is double exact
                ? new Buffer(new[] { exact }, DType.Float64, b.Device)
                : new Buffer(KernelUtil.Visit(b, new FirstFunc()), b.DType, b.Device);
            var one = ConvertArray(single, o.DType, null);
            if (b.Length == 1) return KernelUtil.Wrap(one, o, b.Device);
            return KernelUtil.Wrap(SplatArrayOf(one, b.Length), o, b.Device);
        }
        return KernelUtil.Wrap(ConvertArray(b, o.DType, null), o, b.Device);
    }

    private sealed class FirstFunc : IArrayFunc<Array>
    {
        public Array Invoke<T>(T[] data) where T : unmanaged => new[] { data[0] };
    }

    private static Array SplatArrayOf(Array one, int n)
    {
        var r = Array.CreateInstance(one.GetType().GetElementType()!, n);
        var v = one.GetValue(0);
        for (int i = 0; i < n; i++) r.SetValue(v, i);
        return r;
    }

    private static Array ConvertArray(Buffer src, DType to, Buffer? int64Source)
    {
        if (int64Source is not null) src = int64Source;
        return src.DType switch
        {
            DType.Float32 => To(src.Span<float>(), to),
            DType.Float64 => To(src.Span<double>(), to),
            DType.Int32 => To(src.Span<int>(), to),
            DType.Int64 => To(src.Span<long>(), to),
            DType.UInt32 => To(src.Span<uint>(), to),
            DType.Float16 => To(src.Span<Half>(), to),
            DType.BFloat16 => To<float>(ElementwiseEngine.ToFloat(src), to),
            DType.Bool => To<byte>(MemoryMarshal.Cast<bool, byte>(src.Span<bool>()), to),
            _ => throw new InvalidOperationException(),
        };
    }

    private static Array To<TS>(ReadOnlySpan<TS> s, DType to) where TS : unmanaged, INumberBase<TS>
    {
        bool fromFloat = typeof(TS) == typeof(float) || typeof(TS) == typeof(double) || typeof(TS) == typeof(Half);
        switch (to)
        {
            case DType.Float32: { var r = new float[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = float.CreateTruncating(s[i]); return r; }
            case DType.Float64: { var r = new double[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = double.CreateTruncating(s[i]); return r; }
            case DType.Float16: { var r = new Half[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = Half.CreateTruncating(s[i]); return r; }
            case DType.BFloat16: { var r = new BFloat16[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = (BFloat16)double.CreateTruncating(s[i]); return r; }
            case DType.Int32: { var r = new int[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = fromFloat ? int.CreateSaturating(s[i]) : int.CreateTruncating(s[i]); return r; }
            case DType.Int64: { var r = new long[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = fromFloat ? long.CreateSaturating(s[i]) : long.CreateTruncating(s[i]); return r; }
            case DType.UInt32: { var r = new uint[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = fromFloat ? uint.CreateSaturating(s[i]) : uint.CreateTruncating(s[i]); return r; }
            case DType.Bool: { var r = new bool[s.Length]; for (int i = 0; i < s.Length; i++) r[i] = !TS.IsZero(s[i]); return r; }
            default: throw new InvalidOperationException();
        }
    }

    /// <summary>bitcast_convert_type[new_dtype]: reinterprets the bits; both dtypes must have the same width.</summary>
    public static readonly Primitive BitcastConvertType = new("bitcast_convert_type", "elementwise",
        (ins, p) =>
        {
            Elementwise.Check("bitcast_convert_type", ins, 1);
            var to = p.DType("new_dtype");
            if (to.ItemSize() != ins[0].DType.ItemSize() || to == DType.Bool || ins[0].DType == DType.Bool)
                throw new DTypeError($"bitcast_convert_type needs dtypes of the same bit width (and not bool), got {ins[0].DType.Name()} → {to.Name()}");
            return [new Aval(ins[0].Shape, to)];
        },
        (xs, p, o) =>
        {
            var bytes = xs[0].Buffer!.Bytes();
            var arr = KernelUtil.NewArray(o[0].DType, o[0].Size);
            var handle = GCHandle.Alloc(arr, GCHandleType.Pinned);
            try { unsafe { bytes.CopyTo(new Span<byte>((void*)handle.AddrOfPinnedObject(), bytes.Length)); } }
            finally { handle.Free(); }
            return [KernelUtil.Wrap(arr, o[0], xs[0].Buffer!.Device)];
        });
}
