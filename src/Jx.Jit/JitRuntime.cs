using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Jx;

/// <summary>Scalar and vector helpers called by generated kernels, with the same semantics as the eager kernels
/// (XLA's integer division by zero, saturating float-to-int conversion, NaN-propagating max/min...).</summary>
public static class JitRuntime
{
    private const MethodImplOptions Inline = MethodImplOptions.AggressiveInlining;

    // ---- scalar ----
    [MethodImpl(Inline)] public static float Sign(float a) => float.IsNaN(a) ? a : a > 0 ? 1 : a < 0 ? -1 : a;
    [MethodImpl(Inline)] public static double Sign(double a) => double.IsNaN(a) ? a : a > 0 ? 1 : a < 0 ? -1 : a;
    [MethodImpl(Inline)] public static int Sign(int a) => Math.Sign(a);
    [MethodImpl(Inline)] public static long Sign(long a) => Math.Sign(a);
    [MethodImpl(Inline)] public static uint Sign(uint a) => a > 0 ? 1u : 0u;
    [MethodImpl(Inline)] public static int Abs(int a) => a < 0 ? unchecked(-a) : a;
    [MethodImpl(Inline)] public static long Abs(long a) => a < 0 ? unchecked(-a) : a;
    [MethodImpl(Inline)] public static uint Abs(uint a) => a;
    [MethodImpl(Inline)] public static float Abs(float a) => MathF.Abs(a);
    [MethodImpl(Inline)] public static double Abs(double a) => Math.Abs(a);
    [MethodImpl(Inline)] public static int Div(int a, int b) => b == 0 ? -1 : (a == int.MinValue && b == -1) ? int.MinValue : a / b;
    [MethodImpl(Inline)] public static long Div(long a, long b) => b == 0 ? -1 : (a == long.MinValue && b == -1) ? long.MinValue : a / b;
    [MethodImpl(Inline)] public static uint Div(uint a, uint b) => b == 0 ? uint.MaxValue : a / b;
    [MethodImpl(Inline)] public static float Div(float a, float b) => a / b;
    [MethodImpl(Inline)] public static double Div(double a, double b) => a / b;
    [MethodImpl(Inline)] public static int Rem(int a, int b) => b == 0 ? a : b == -1 ? 0 : a % b;
    [MethodImpl(Inline)] public static long Rem(long a, long b) => b == 0 ? a : b == -1 ? 0 : a % b;
    [MethodImpl(Inline)] public static uint Rem(uint a, uint b) => b == 0 ? a : a % b;
    [MethodImpl(Inline)] public static float Rem(float a, float b) => a % b;
    [MethodImpl(Inline)] public static double Rem(double a, double b) => a % b;
    // Float max/min are IEEE 754-2019 maximum/minimum (NaN propagates, −0 < +0), written out rather than calling
    // MathF.Max/Min: .NET 10's JIT folds MathF.Min(x, −0f) with a constant second operand to a plain minss, which returns
    // +0 for x = +0 (generated kernels pass constants as literals).
    [MethodImpl(Inline)] public static float Max(float a, float b) => float.IsNaN(a) ? a : float.IsNaN(b) ? b : a > b ? a : b > a ? b : float.IsNegative(a) ? b : a;
    [MethodImpl(Inline)] public static double Max(double a, double b) => double.IsNaN(a) ? a : double.IsNaN(b) ? b : a > b ? a : b > a ? b : double.IsNegative(a) ? b : a;
    [MethodImpl(Inline)] public static int Max(int a, int b) => Math.Max(a, b);
    [MethodImpl(Inline)] public static long Max(long a, long b) => Math.Max(a, b);
    [MethodImpl(Inline)] public static uint Max(uint a, uint b) => Math.Max(a, b);
    [MethodImpl(Inline)] public static bool Max(bool a, bool b) => a | b;
    [MethodImpl(Inline)] public static float Min(float a, float b) => float.IsNaN(a) ? a : float.IsNaN(b) ? b : a < b ? a : b < a ? b : float.IsNegative(a) ? a : b;
    [MethodImpl(Inline)] public static double Min(double a, double b) => double.IsNaN(a) ? a : double.IsNaN(b) ? b : a < b ? a : b < a ? b : double.IsNegative(a) ? a : b;
    [MethodImpl(Inline)] public static int Min(int a, int b) => Math.Min(a, b);
    [MethodImpl(Inline)] public static long Min(long a, long b) => Math.Min(a, b);
    [MethodImpl(Inline)] public static uint Min(uint a, uint b) => Math.Min(a, b);
    [MethodImpl(Inline)] public static bool Min(bool a, bool b) => a & b;
    [MethodImpl(Inline)] public static float Logistic(float a) => 1f / (1f + MathF.Exp(-a));
    [MethodImpl(Inline)] public static double Logistic(double a) => 1.0 / (1.0 + Math.Exp(-a));
    [MethodImpl(Inline)] public static float Round(float a, int mode) => MathF.Round(a, mode == 0 ? MidpointRounding.AwayFromZero : MidpointRounding.ToEven);
    [MethodImpl(Inline)] public static double Round(double a, int mode) => Math.Round(a, mode == 0 ? MidpointRounding.AwayFromZero : MidpointRounding.ToEven);
    [MethodImpl(Inline)] public static float NextAfter(float x, float y) => float.IsNaN(x) || float.IsNaN(y) ? float.NaN : x == y ? y : x < y ? MathF.BitIncrement(x) : MathF.BitDecrement(x);
    [MethodImpl(Inline)] public static double NextAfter(double x, double y) => double.IsNaN(x) || double.IsNaN(y) ? double.NaN : x == y ? y : x < y ? Math.BitIncrement(x) : Math.BitDecrement(x);
    public static float IPow(float x, int y) => (float)IPow((double)x, y);
    public static double IPow(double x, int y)
    {
        if (y == 0) return 1;
        long n = Math.Abs((long)y);
        double acc = 1, b = x;
        while (n > 0) { if ((n & 1) != 0) acc *= b; b *= b; n >>= 1; }
        return y < 0 ? 1 / acc : acc;
    }
    public static int IPow(int x, int y) { int acc = 1, b = x; for (int n = y; n > 0; n >>= 1) { if ((n & 1) != 0) acc = unchecked(acc * b); b = unchecked(b * b); } return acc; }
    public static long IPow(long x, int y) { long acc = 1, b = x; for (int n = y; n > 0; n >>= 1) { if ((n & 1) != 0) acc = unchecked(acc * b); b = unchecked(b * b); } return acc; }
    public static uint IPow(uint x, int y) { uint acc = 1, b = x; for (int n = y; n > 0; n >>= 1) { if ((n & 1) != 0) acc = unchecked(acc * b); b = unchecked(b * b); } return acc; }
    [MethodImpl(Inline)] public static int ShiftLeft(int a, int b) => (uint)b >= 32 ? 0 : a << b;
    [MethodImpl(Inline)] public static uint ShiftLeft(uint a, uint b) => b >= 32 ? 0 : a << (int)b;
    [MethodImpl(Inline)] public static long ShiftLeft(long a, long b) => (ulong)b >= 64 ? 0 : a << (int)b;
    [MethodImpl(Inline)] public static int ShiftRightLogical(int a, int b) => (uint)b >= 32 ? 0 : (int)((uint)a >> b);
    [MethodImpl(Inline)] public static uint ShiftRightLogical(uint a, uint b) => b >= 32 ? 0 : a >> (int)b;
    [MethodImpl(Inline)] public static long ShiftRightLogical(long a, long b) => (ulong)b >= 64 ? 0 : (long)((ulong)a >> (int)b);
    [MethodImpl(Inline)] public static int ShiftRightArithmetic(int a, int b) => a >> (int)Math.Min((uint)b, 31u);
    [MethodImpl(Inline)] public static uint ShiftRightArithmetic(uint a, uint b) => (uint)((int)a >> (int)Math.Min(b, 31u));
    [MethodImpl(Inline)] public static long ShiftRightArithmetic(long a, long b) => a >> (int)Math.Min((ulong)b, 63ul);

    // Conversions with XLA's semantics: float→int truncates and saturates (NaN→0), int→int wraps.
    [MethodImpl(Inline)] public static int ToI32(double v) => int.CreateSaturating(v);
    [MethodImpl(Inline)] public static int ToI32(float v) => int.CreateSaturating(v);
    [MethodImpl(Inline)] public static int ToI32(long v) => unchecked((int)v);
    [MethodImpl(Inline)] public static int ToI32(uint v) => unchecked((int)v);
    [MethodImpl(Inline)] public static int ToI32(int v) => v;
    [MethodImpl(Inline)] public static int ToI32(bool v) => v ? 1 : 0;
    [MethodImpl(Inline)] public static long ToI64(double v) => long.CreateSaturating(v);
    [MethodImpl(Inline)] public static long ToI64(float v) => long.CreateSaturating(v);
    [MethodImpl(Inline)] public static long ToI64(long v) => v;
    [MethodImpl(Inline)] public static long ToI64(int v) => v;
    [MethodImpl(Inline)] public static long ToI64(uint v) => v;
    [MethodImpl(Inline)] public static long ToI64(bool v) => v ? 1 : 0;
    [MethodImpl(Inline)] public static uint ToU32(double v) => uint.CreateSaturating(v);
    [MethodImpl(Inline)] public static uint ToU32(float v) => uint.CreateSaturating(v);
    [MethodImpl(Inline)] public static uint ToU32(long v) => unchecked((uint)v);
    [MethodImpl(Inline)] public static uint ToU32(int v) => unchecked((uint)v);
    [MethodImpl(Inline)] public static uint ToU32(uint v) => v;
    [MethodImpl(Inline)] public static uint ToU32(bool v) => v ? 1u : 0u;
    [MethodImpl(Inline)] public static float ToF32(bool v) => v ? 1 : 0;
    [MethodImpl(Inline)] public static float ToF32(double v) => (float)v;
    [MethodImpl(Inline)] public static float ToF32(float v) => v;
    [MethodImpl(Inline)] public static float ToF32(long v) => v;
    [MethodImpl(Inline)] public static float ToF32(int v) => v;
    [MethodImpl(Inline)] public static float ToF32(uint v) => v;
    [MethodImpl(Inline)] public static double ToF64(bool v) => v ? 1 : 0;
    [MethodImpl(Inline)] public static double ToF64(double v) => v;
    [MethodImpl(Inline)] public static double ToF64(float v) => v;
    [MethodImpl(Inline)] public static double ToF64(long v) => v;
    [MethodImpl(Inline)] public static double ToF64(int v) => v;
    [MethodImpl(Inline)] public static double ToF64(uint v) => v;
    [MethodImpl(Inline)] public static bool ToBool(double v) => v != 0;
    [MethodImpl(Inline)] public static bool ToBool(float v) => v != 0;
    [MethodImpl(Inline)] public static bool ToBool(long v) => v != 0;
    [MethodImpl(Inline)] public static bool ToBool(int v) => v != 0;
    [MethodImpl(Inline)] public static bool ToBool(uint v) => v != 0;
    [MethodImpl(Inline)] public static bool ToBool(bool v) => v;

    /// <summary>float64 → bfloat16 with a single rounding (to nearest even), via a round-to-odd float32.</summary>
    public static BFloat16 ToBF16(double v) => BFloat16.FromDouble(v);

    // ---- vector ----
    /// <summary>float32 tanh as the 13/6-degree odd rational interpolant on [−9, 9] that XLA's CPU backend uses
    /// (within 4 ulp, tested; ±1 outside, where float32 tanh rounds to ±1): no exp, and on AVX-512 no division. |x| below
    /// 4e-4 returns x itself (exact to float32 there), and NaN stays NaN.</summary>
    [MethodImpl(Inline)]
    public static Vector512<float> Tanh(Vector512<float> x)
    {
        var c = Vector512.Min(Vector512.Max(x, Vector512.Create(-9f)), Vector512.Create(9f));
        var x2 = c * c;
        var p = Vector512.FusedMultiplyAdd(x2, Vector512.Create(-2.76076847742355e-16f), Vector512.Create(2.00018790482477e-13f));
        p = Vector512.FusedMultiplyAdd(x2, p, Vector512.Create(-8.60467152213735e-11f));
        p = Vector512.FusedMultiplyAdd(x2, p, Vector512.Create(5.12229709037114e-08f));
        p = Vector512.FusedMultiplyAdd(x2, p, Vector512.Create(1.48572235717979e-05f));
        p = Vector512.FusedMultiplyAdd(x2, p, Vector512.Create(6.37261928875436e-04f));
        p = Vector512.FusedMultiplyAdd(x2, p, Vector512.Create(4.89352455891786e-03f));
        p *= c;
        var q = Vector512.FusedMultiplyAdd(x2, Vector512.Create(1.19825839466702e-06f), Vector512.Create(1.18534705686654e-04f));
        q = Vector512.FusedMultiplyAdd(x2, q, Vector512.Create(2.26843463243900e-03f));
        q = Vector512.FusedMultiplyAdd(x2, q, Vector512.Create(4.89352518554385e-03f));
        // p / q without a 512-bit division (whose throughput is a sixth of the rest of the function's): the reciprocal
        // estimate, one Newton step, and one correction of the quotient by its residual (p − q·t), which rounds like the
        // division to within an ulp.
        Vector512<float> ratio;
        if (Avx512F.IsSupported)
        {
            var r = Avx512F.Reciprocal14(q);
            r = Vector512.FusedMultiplyAdd(r, Vector512.FusedMultiplyAdd(-q, r, Vector512<float>.One), r);
            var t0 = p * r;
            ratio = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(-q, t0, p), r, t0);
        }
        else ratio = p / q;
        // The interpolant overshoots 1 by an ulp near the clamp: keep the result in [−1, 1].
        var t = Vector512.Min(Vector512.Max(ratio, Vector512.Create(-1f)), Vector512<float>.One);
        // Tiny |x| (and NaN, which fails the comparison below) pass through unchanged.
        var keep = Vector512.GreaterThanOrEqual(Vector512.Abs(x), Vector512.Create(0.0004f));
        return Vector512.ConditionalSelect(keep, t, x);
    }

    [MethodImpl(Inline)]
    public static Vector512<double> Tanh(Vector512<double> x)
    {
        var ax = Vector512.Abs(x);
        var e = Vector512.Exp(ax + ax);
        var t = Vector512<double>.One - Vector512.Create(2.0) / (e + Vector512<double>.One);
        var x2 = x * x;
        var poly = x * (Vector512<double>.One + x2 * (Vector512.Create(-1.0 / 3) + x2 * (Vector512.Create(2.0 / 15) + x2 * (Vector512.Create(-17.0 / 315) + x2 * Vector512.Create(62.0 / 2835)))));
        var big = Vector512.ConditionalSelect(Vector512.LessThan(x, Vector512<double>.Zero), -t, t);
        return Vector512.ConditionalSelect(Vector512.LessThan(ax, Vector512.Create(0.01)), poly, big);
    }

    /// <summary>float32 e^x: Cody–Waite reduction by ln 2 and a degree-6 polynomial (within 1 ulp, tested), scaled by
    /// 2^n as two normal factors so that results in the subnormal range round correctly; overflow gives +∞, underflow 0,
    /// NaN stays NaN.</summary>
    [MethodImpl(Inline)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var c = Vector512.Min(Vector512.Max(x, Vector512.Create(-104f)), Vector512.Create(89f));
        var n = Vector512.Round(c * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), c);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(1.9875691500e-4f), r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p * r, r, r) + Vector512<float>.One;
        var ni = Vector512.ConvertToInt32(n);
        var n1 = ni >> 1; // 2^n = 2^n1 · 2^(n − n1), both factors normal for n down to −150
        var s1 = ((n1 + Vector512.Create(127)) << 23).AsSingle();
        var s2 = ((ni - n1 + Vector512.Create(127)) << 23).AsSingle();
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), p * s1 * s2, x);
    }

    /// <summary>float64 e^x (the runtime's vector exp).</summary>
    [MethodImpl(Inline)] public static Vector512<double> Exp(Vector512<double> x) => Vector512.Exp(x);

    [MethodImpl(Inline)] public static Vector512<float> Logistic(Vector512<float> x) => Vector512<float>.One / (Vector512<float>.One + Exp(-x));
    [MethodImpl(Inline)] public static Vector512<double> Logistic(Vector512<double> x) => Vector512<double>.One / (Vector512<double>.One + Vector512.Exp(-x));

    public static Vector512<float> IPow(Vector512<float> x, int y)
    {
        var acc = Vector512<float>.One; var b = x;
        for (int n = Math.Abs(y); n > 0; n >>= 1) { if ((n & 1) != 0) acc *= b; b *= b; }
        return y < 0 ? Vector512<float>.One / acc : acc;
    }

    public static Vector512<double> IPow(Vector512<double> x, int y)
    {
        var acc = Vector512<double>.One; var b = x;
        for (int n = Math.Abs(y); n > 0; n >>= 1) { if ((n & 1) != 0) acc *= b; b *= b; }
        return y < 0 ? Vector512<double>.One / acc : acc;
    }

    /// <summary>Lane-wise max/min that propagate NaN like the scalar kernels.</summary>
    [MethodImpl(Inline)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(Inline)] public static Vector512<double> Max(Vector512<double> a, Vector512<double> b) => Vector512.Max(a, b);
    [MethodImpl(Inline)] public static Vector512<float> Min(Vector512<float> a, Vector512<float> b) => Vector512.Min(a, b);
    [MethodImpl(Inline)] public static Vector512<double> Min(Vector512<double> a, Vector512<double> b) => Vector512.Min(a, b);

    public static float HMax(Vector512<float> v) { float m = v[0]; for (int i = 1; i < Vector512<float>.Count; i++) m = MathF.Max(m, v[i]); return m; }
    public static double HMax(Vector512<double> v) { double m = v[0]; for (int i = 1; i < Vector512<double>.Count; i++) m = Math.Max(m, v[i]); return m; }
    public static float HMin(Vector512<float> v) { float m = v[0]; for (int i = 1; i < Vector512<float>.Count; i++) m = MathF.Min(m, v[i]); return m; }
    public static double HMin(Vector512<double> v) { double m = v[0]; for (int i = 1; i < Vector512<double>.Count; i++) m = Math.Min(m, v[i]); return m; }
    public static float HProd(Vector512<float> v) { float m = 1; for (int i = 0; i < Vector512<float>.Count; i++) m *= v[i]; return m; }
    public static double HProd(Vector512<double> v) { double m = 1; for (int i = 0; i < Vector512<double>.Count; i++) m *= v[i]; return m; }
}
