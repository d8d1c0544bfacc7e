using System.Runtime.InteropServices;
using TP = System.Numerics.Tensors.TensorPrimitives;

namespace Jx;

/// <summary>Elementwise primitives: every operand has the same shape and dtype (jax.numpy broadcasts and promotes
/// before binding them). Each definition holds its abstract-evaluation rule and its eager CPU kernel.</summary>
[PrimitiveFamily]
public static class Elementwise
{
    [Flags]
    internal enum Kinds { Float = 1, SignedInt = 2, UnsignedInt = 4, Bool = 8, Int = SignedInt | UnsignedInt, Numeric = Float | Int, Any = Numeric | Bool, IntOrBool = Int | Bool }

    internal static bool Accepts(Kinds k, DType d) =>
        (d.IsFloating() && k.HasFlag(Kinds.Float)) || (d.IsSignedInteger() && k.HasFlag(Kinds.SignedInt)) ||
        (d.IsUnsigned() && k.HasFlag(Kinds.UnsignedInt)) || (d.IsBool() && k.HasFlag(Kinds.Bool));

    private static string Describe(Kinds k) => k switch
    {
        Kinds.Float => "floating-point",
        Kinds.Numeric => "numeric (integer or floating-point)",
        Kinds.Int => "integer",
        Kinds.IntOrBool => "integer or boolean",
        _ => k.ToString(),
    };

    internal static void CheckKind(string op, Kinds k, Aval a)
    {
        if (!Accepts(k, a.DType))
            throw new DTypeError($"'{op}' takes {Describe(k)} operands, got {a.DType.Name()} (shape {a.Shape}); convert first with x.AsType(...)");
    }

    internal static void CheckSame(string op, Aval[] xs)
    {
        for (int i = 1; i < xs.Length; i++)
        {
            if (xs[i].Shape == xs[0].Shape && xs[i].DType == xs[0].DType) continue;
            if (xs[i].Shape != xs[0].Shape)
                throw new ShapeError($"'{op}' requires operands of equal shapes (jax.numpy broadcasts before lax ops), got {string.Join(" and ", xs.Select(x => x.Shape.ToString()))}");
            if (xs[i].DType != xs[0].DType)
                throw new DTypeError($"'{op}' requires operands of the same dtype, got {string.Join(" and ", xs.Select(x => x.DType.Name()))}; promote first (Np ops do this for you)");
        }
    }

    internal static bool AllWeak(Aval[] xs)
    {
        foreach (var x in xs) if (!x.Weak) return false;
        return true;
    }

    private static Primitive Unary(string name, Kinds kinds, UnaryImpl impl)
    {
        Primitive self = null!;
        self = new(name, "elementwise",
            (ins, p) => { Check(name, ins, 1); CheckKind(name, kinds, ins[0]); return [ins[0]]; },
            (xs, p, o) => [ElementwiseEngine.Unary(self, xs[0], o[0], impl)]);
        return self;
    }

    private static Primitive Binary(string name, Kinds kinds, BinaryImpl impl)
    {
        Primitive self = null!;
        self = new(name, "elementwise",
            (ins, p) =>
            {
                Check(name, ins, 2);
                CheckKind(name, kinds, ins[0]);
                CheckSame(name, ins);
                return [ins[0].Weak == ins[1].Weak ? ins[0] : ins[0] with { Weak = false }];
            },
            (xs, p, o) => [ElementwiseEngine.Binary(self, xs[0], xs[1], o[0], impl)]);
        return self;
    }

    private static Primitive Comparison(string name, ComparisonKind kind) => new(
        name, "elementwise",
        (ins, p) => { Check(name, ins, 2); CheckSame(name, ins); return [new Aval(ins[0].Shape, DType.Bool)]; },
        (xs, p, o) => [ElementwiseEngine.Compare(xs[0], xs[1], o[0], kind)]);

    internal static void Check(string op, Aval[] ins, int n)
    {
        if (ins.Length != n) throw new InvalidArgumentError($"'{op}' takes {n} operand(s), got {ins.Length}");
    }

    private static UnaryImpl Float(SpanFn<float> f, SpanFn<double> d) => new() { F32 = f, F64 = d };

    // ---------------- unary ----------------
    public static readonly Primitive Neg = Unary("neg", Kinds.Numeric, new()
    {
        F32 = (x, y) => TP.Negate(x, y), F64 = (x, y) => TP.Negate(x, y),
        I32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = unchecked(-x[i]); },
        I64 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = unchecked(-x[i]); },
        U32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = unchecked(0u - x[i]); },
    });
    public static readonly Primitive Abs = Unary("abs", Kinds.Numeric, new()
    {
        F32 = (x, y) => TP.Abs(x, y), F64 = (x, y) => TP.Abs(x, y),
        I32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = x[i] < 0 ? unchecked(-x[i]) : x[i]; },
        I64 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = x[i] < 0 ? unchecked(-x[i]) : x[i]; },
        U32 = (x, y) => x.CopyTo(y),
    });
    public static readonly Primitive Sign = Unary("sign", Kinds.Numeric, new()
    {
        F32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = float.IsNaN(x[i]) ? float.NaN : x[i] > 0 ? 1 : x[i] < 0 ? -1 : x[i]; },
        F64 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = double.IsNaN(x[i]) ? double.NaN : x[i] > 0 ? 1 : x[i] < 0 ? -1 : x[i]; },
        I32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = Math.Sign(x[i]); },
        I64 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = Math.Sign(x[i]); },
        U32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = x[i] > 0 ? 1u : 0u; },
    });
    public static readonly Primitive Floor = Unary("floor", Kinds.Float, Float((x, y) => TP.Floor(x, y), (x, y) => TP.Floor(x, y)));
    public static readonly Primitive Ceil = Unary("ceil", Kinds.Float, Float((x, y) => TP.Ceiling(x, y), (x, y) => TP.Ceiling(x, y)));
    public static readonly Primitive Exp = Unary("exp", Kinds.Float, Float((x, y) => TP.Exp(x, y), (x, y) => TP.Exp(x, y)));
    public static readonly Primitive Exp2 = Unary("exp2", Kinds.Float, Float((x, y) => TP.Exp2(x, y), (x, y) => TP.Exp2(x, y)));
    // expm1 and log1p are computed per element in double, and sinh and tanh are corrected near 0 with their Taylor series:
    // TensorPrimitives' versions lose all relative precision there (ExpM1(0f) is 1.19e-7, Tanh(1e-30) is -6e-8).
    public static readonly Primitive Expm1 = Unary("expm1", Kinds.Float, UnaryImpl.FromScalar(SpecialFunctions.Expm1));
    public static readonly Primitive Log = Unary("log", Kinds.Float, Float((x, y) => TP.Log(x, y), (x, y) => TP.Log(x, y)));
    public static readonly Primitive Log1p = Unary("log1p", Kinds.Float, UnaryImpl.FromScalar(SpecialFunctions.Log1p));
    public static readonly Primitive Sqrt = Unary("sqrt", Kinds.Float, Float((x, y) => TP.Sqrt(x, y), (x, y) => TP.Sqrt(x, y)));
    public static readonly Primitive Rsqrt = Unary("rsqrt", Kinds.Float, Float((x, y) => TP.ReciprocalSqrt(x, y), (x, y) => TP.ReciprocalSqrt(x, y)));
    public static readonly Primitive Cbrt = Unary("cbrt", Kinds.Float, Float((x, y) => TP.Cbrt(x, y), (x, y) => TP.Cbrt(x, y)));
    public static readonly Primitive Sin = Unary("sin", Kinds.Float, Float((x, y) => TP.Sin(x, y), (x, y) => TP.Sin(x, y)));
    public static readonly Primitive Cos = Unary("cos", Kinds.Float, Float((x, y) => TP.Cos(x, y), (x, y) => TP.Cos(x, y)));
    public static readonly Primitive Tan = Unary("tan", Kinds.Float, Float((x, y) => TP.Tan(x, y), (x, y) => TP.Tan(x, y)));
    public static readonly Primitive Asin = Unary("asin", Kinds.Float, Float((x, y) => TP.Asin(x, y), (x, y) => TP.Asin(x, y)));
    public static readonly Primitive Acos = Unary("acos", Kinds.Float, Float((x, y) => TP.Acos(x, y), (x, y) => TP.Acos(x, y)));
    public static readonly Primitive Atan = Unary("atan", Kinds.Float, Float((x, y) => TP.Atan(x, y), (x, y) => TP.Atan(x, y)));
    public static readonly Primitive Sinh = Unary("sinh", Kinds.Float, Float(
        (x, y) => { TP.Sinh(x, y); for (int i = 0; i < x.Length; i++) if (MathF.Abs(x[i]) < 0.0625f) { float a = x[i], a2 = a * a; y[i] = a + a * a2 * (1f / 6 + a2 * (1f / 120 + a2 / 5040)); } },
        (x, y) => { TP.Sinh(x, y); for (int i = 0; i < x.Length; i++) if (Math.Abs(x[i]) < 0.01) { double a = x[i], a2 = a * a; y[i] = a + a * a2 * (1.0 / 6 + a2 * (1.0 / 120 + a2 * (1.0 / 5040 + a2 / 362880))); } }));
    public static readonly Primitive Cosh = Unary("cosh", Kinds.Float, Float((x, y) => TP.Cosh(x, y), (x, y) => TP.Cosh(x, y)));
    public static readonly Primitive Tanh = Unary("tanh", Kinds.Float, Float(
        (x, y) => { TP.Tanh(x, y); for (int i = 0; i < x.Length; i++) if (MathF.Abs(x[i]) < 0.0625f) { float a = x[i], a2 = a * a; y[i] = a * (1f + a2 * (-1f / 3 + a2 * (2f / 15 + a2 * (-17f / 315)))); } },
        (x, y) => { TP.Tanh(x, y); for (int i = 0; i < x.Length; i++) if (Math.Abs(x[i]) < 0.01) { double a = x[i], a2 = a * a; y[i] = a * (1 + a2 * (-1.0 / 3 + a2 * (2.0 / 15 + a2 * (-17.0 / 315 + a2 * (62.0 / 2835))))); } }));
    public static readonly Primitive Asinh = Unary("asinh", Kinds.Float, Float((x, y) => TP.Asinh(x, y), (x, y) => TP.Asinh(x, y)));
    public static readonly Primitive Acosh = Unary("acosh", Kinds.Float, Float((x, y) => TP.Acosh(x, y), (x, y) => TP.Acosh(x, y)));
    public static readonly Primitive Atanh = Unary("atanh", Kinds.Float, Float((x, y) => TP.Atanh(x, y), (x, y) => TP.Atanh(x, y)));
    public static readonly Primitive Logistic = Unary("logistic", Kinds.Float, Float((x, y) => TP.Sigmoid(x, y), (x, y) => TP.Sigmoid(x, y)));
    public static readonly Primitive Erf = Unary("erf", Kinds.Float, UnaryImpl.FromScalar(SpecialFunctions.Erf));
    public static readonly Primitive Erfc = Unary("erfc", Kinds.Float, UnaryImpl.FromScalar(SpecialFunctions.Erfc));
    // float32 is Giles' approximation alone, as XLA's ErfInv32 (vectorized); float64 adds Newton steps.
    public static readonly Primitive ErfInv = Unary("erf_inv", Kinds.Float,
        new UnaryImpl { F32 = SpecialFunctions.ErfInvSingle, F64 = UnaryImpl.FromScalar(SpecialFunctions.ErfInv).F64 });
    public static readonly Primitive Lgamma = Unary("lgamma", Kinds.Float, UnaryImpl.FromScalar(SpecialFunctions.LGamma));
    public static readonly Primitive Digamma = Unary("digamma", Kinds.Float, UnaryImpl.FromScalar(SpecialFunctions.Digamma));
    public static readonly Primitive Square = Unary("square", Kinds.Numeric, new()
    {
        F32 = (x, y) => TP.Multiply(x, x, y), F64 = (x, y) => TP.Multiply(x, x, y),
        I32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = unchecked(x[i] * x[i]); },
        I64 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = unchecked(x[i] * x[i]); },
        U32 = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = unchecked(x[i] * x[i]); },
    });
    public static readonly Primitive Not = Unary("not", Kinds.IntOrBool, new()
    {
        Bool = (x, y) => { for (int i = 0; i < x.Length; i++) y[i] = !x[i]; },
        I32 = (x, y) => TP.OnesComplement(x, y), I64 = (x, y) => TP.OnesComplement(x, y), U32 = (x, y) => TP.OnesComplement(x, y),
    });

    /// <summary>round[rounding_method]: 0 rounds halves away from zero (lax default), 1 to nearest even (jnp.round).</summary>
    public static readonly Primitive Round = new("round", "elementwise",
        (ins, p) => { Check("round", ins, 1); CheckKind("round", Kinds.Float, ins[0]); return [ins[0]]; },
        (xs, p, o) =>
        {
            var mode = p.Int("rounding_method") == 0 ? MidpointRounding.AwayFromZero : MidpointRounding.ToEven;
            return [ElementwiseEngine.Unary(PrimitiveRegistry.Get("round"), xs[0], o[0],
                Float((x, y) => TP.Round(x, mode, y), (x, y) => TP.Round(x, mode, y)))];
        });

    /// <summary>is_finite: true where the value is neither infinite nor NaN.</summary>
    public static readonly Primitive IsFinite = new("is_finite", "elementwise",
        (ins, p) => { Check("is_finite", ins, 1); CheckKind("is_finite", Kinds.Float, ins[0]); return [new Aval(ins[0].Shape, DType.Bool)]; },
        (xs, p, o) =>
        {
            var d = xs[0].DType == DType.Float64 ? xs[0].Buffer!.Array<double>() : ElementwiseEngine.ToFloat(xs[0].Buffer!).Select(f => (double)f).ToArray();
            var r = new bool[d.Length];
            for (int i = 0; i < d.Length; i++) r[i] = double.IsFinite(d[i]);
            return [KernelUtil.Wrap(r, o[0], xs[0].Buffer!.Device)];
        });

    /// <summary>integer_pow[y]: x raised to a static integer power (negative powers for floats).</summary>
    public static readonly Primitive IntegerPow = new("integer_pow", "elementwise",
        (ins, p) =>
        {
            Check("integer_pow", ins, 1);
            CheckKind("integer_pow", Kinds.Numeric, ins[0]);
            if (p.Int("y") < 0 && !ins[0].DType.IsFloating())
                throw new InvalidArgumentError($"integer_pow with negative exponent {p.Int("y")} needs a floating-point operand, got {ins[0].DType.Name()}");
            return [ins[0]];
        },
        (xs, p, o) =>
        {
            int y = p.Int("y");
            return [ElementwiseEngine.Unary(PrimitiveRegistry.Get("integer_pow"), xs[0], o[0], new()
            {
                F32 = (a, r) => { for (int i = 0; i < a.Length; i++) r[i] = (float)IPow(a[i], y); },
                F64 = (a, r) => { for (int i = 0; i < a.Length; i++) r[i] = IPow(a[i], y); },
                I32 = (a, r) => { for (int i = 0; i < a.Length; i++) r[i] = (int)IPowInt(a[i], y); },
                I64 = (a, r) => { for (int i = 0; i < a.Length; i++) r[i] = IPowInt(a[i], y); },
                U32 = (a, r) => { for (int i = 0; i < a.Length; i++) r[i] = (uint)IPowInt(a[i], y); },
            })];
        });

    private static double IPow(double x, int y)
    {
        if (y == 0) return 1;
        bool neg = y < 0;
        long n = Math.Abs((long)y);
        double acc = 1, b = x;
        while (n > 0) { if ((n & 1) != 0) acc *= b; b *= b; n >>= 1; }
        return neg ? 1 / acc : acc;
    }

    private static long IPowInt(long x, int y)
    {
        long acc = 1, b = x;
        for (int n = y; n > 0; n >>= 1) { if ((n & 1) != 0) acc = unchecked(acc * b); b = unchecked(b * b); }
        return acc;
    }

    // ---------------- binary ----------------
    public static readonly Primitive Add = Binary("add", Kinds.Numeric, new()
    {
        F32 = (a, b, y) => TP.Add(a, b, y), F64 = (a, b, y) => TP.Add(a, b, y),
        I32 = (a, b, y) => TP.Add(a, b, y), I64 = (a, b, y) => TP.Add(a, b, y), U32 = (a, b, y) => TP.Add(a, b, y),
        F32Right = (a, s, y) => TP.Add(a, s, y), F64Right = (a, s, y) => TP.Add(a, s, y),
        F32Left = (a, s, y) => TP.Add(a, s, y), F64Left = (a, s, y) => TP.Add(a, s, y),
    });
    public static readonly Primitive Sub = Binary("sub", Kinds.Numeric, new()
    {
        F32 = (a, b, y) => TP.Subtract(a, b, y), F64 = (a, b, y) => TP.Subtract(a, b, y),
        I32 = (a, b, y) => TP.Subtract(a, b, y), I64 = (a, b, y) => TP.Subtract(a, b, y), U32 = (a, b, y) => TP.Subtract(a, b, y),
        F32Right = (a, s, y) => TP.Subtract(a, s, y), F64Right = (a, s, y) => TP.Subtract(a, s, y),
        F32Left = (a, s, y) => TP.Subtract(s, a, y), F64Left = (a, s, y) => TP.Subtract(s, a, y),
    });
    public static readonly Primitive Mul = Binary("mul", Kinds.Numeric, new()
    {
        F32 = (a, b, y) => TP.Multiply(a, b, y), F64 = (a, b, y) => TP.Multiply(a, b, y),
        I32 = (a, b, y) => TP.Multiply(a, b, y), I64 = (a, b, y) => TP.Multiply(a, b, y), U32 = (a, b, y) => TP.Multiply(a, b, y),
        F32Right = (a, s, y) => TP.Multiply(a, s, y), F64Right = (a, s, y) => TP.Multiply(a, s, y),
        F32Left = (a, s, y) => TP.Multiply(a, s, y), F64Left = (a, s, y) => TP.Multiply(a, s, y),
    });
    /// <summary>div: float division; integer division rounds toward zero and x/0 gives -1 as XLA does (never a crash).</summary>
    public static readonly Primitive Div = Binary("div", Kinds.Numeric, new()
    {
        F32 = (a, b, y) => TP.Divide(a, b, y), F64 = (a, b, y) => TP.Divide(a, b, y),
        I32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] == 0 ? -1 : (a[i] == int.MinValue && b[i] == -1) ? int.MinValue : a[i] / b[i]; },
        I64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] == 0 ? -1 : (a[i] == long.MinValue && b[i] == -1) ? long.MinValue : a[i] / b[i]; },
        U32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] == 0 ? uint.MaxValue : a[i] / b[i]; },
        F32Right = (a, s, y) => TP.Divide(a, s, y), F64Right = (a, s, y) => TP.Divide(a, s, y),
        F32Left = (a, s, y) => TP.Divide(s, a, y), F64Left = (a, s, y) => TP.Divide(s, a, y),
    });
    /// <summary>rem: C's fmod semantics (the result has the dividend's sign); integer x % 0 gives x as XLA does.</summary>
    public static readonly Primitive Rem = Binary("rem", Kinds.Numeric, new()
    {
        F32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] % b[i]; },
        F64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] % b[i]; },
        I32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] == 0 ? a[i] : b[i] == -1 ? 0 : a[i] % b[i]; },
        I64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] == 0 ? a[i] : b[i] == -1 ? 0 : a[i] % b[i]; },
        U32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] == 0 ? a[i] : a[i] % b[i]; },
    });
    public static readonly Primitive Pow = Binary("pow", Kinds.Float, new()
    {
        F32 = (a, b, y) => TP.Pow(a, b, y), F64 = (a, b, y) => TP.Pow(a, b, y),
    });
    /// <summary>max: NaN-propagating maximum.</summary>
    public static readonly Primitive Max = Binary("max", Kinds.Any, new()
    {
        F32 = (a, b, y) => TP.Max(a, b, y), F64 = (a, b, y) => TP.Max(a, b, y),
        I32 = (a, b, y) => TP.Max(a, b, y), I64 = (a, b, y) => TP.Max(a, b, y), U32 = (a, b, y) => TP.Max(a, b, y),
        Bool = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] | b[i]; },
        F32Right = (a, s, y) => TP.Max(a, s, y), F64Right = (a, s, y) => TP.Max(a, s, y),
        F32Left = (a, s, y) => TP.Max(a, s, y), F64Left = (a, s, y) => TP.Max(a, s, y),
    });
    public static readonly Primitive Min = Binary("min", Kinds.Any, new()
    {
        F32 = (a, b, y) => TP.Min(a, b, y), F64 = (a, b, y) => TP.Min(a, b, y),
        I32 = (a, b, y) => TP.Min(a, b, y), I64 = (a, b, y) => TP.Min(a, b, y), U32 = (a, b, y) => TP.Min(a, b, y),
        Bool = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] & b[i]; },
        F32Right = (a, s, y) => TP.Min(a, s, y), F64Right = (a, s, y) => TP.Min(a, s, y),
        F32Left = (a, s, y) => TP.Min(a, s, y), F64Left = (a, s, y) => TP.Min(a, s, y),
    });
    public static readonly Primitive Atan2 = Binary("atan2", Kinds.Float, new()
    {
        F32 = (a, b, y) => TP.Atan2(a, b, y), F64 = (a, b, y) => TP.Atan2(a, b, y),
    });
    public static readonly Primitive NextAfter = Binary("nextafter", Kinds.Float, new()
    {
        F32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = NextAfterF(a[i], b[i]); },
        F64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = NextAfterD(a[i], b[i]); },
    });

    private static float NextAfterF(float x, float y) =>
        float.IsNaN(x) || float.IsNaN(y) ? float.NaN : x == y ? y : x < y ? MathF.BitIncrement(x) : MathF.BitDecrement(x);
    private static double NextAfterD(double x, double y) =>
        double.IsNaN(x) || double.IsNaN(y) ? double.NaN : x == y ? y : x < y ? Math.BitIncrement(x) : Math.BitDecrement(x);

    private static SpanFn2<bool> BoolBits(Func<byte, byte, byte> f) => (a, b, y) =>
    {
        var ab = MemoryMarshal.Cast<bool, byte>(a);
        var bb = MemoryMarshal.Cast<bool, byte>(b);
        for (int i = 0; i < y.Length; i++) y[i] = f(ab[i], bb[i]) != 0;
    };

    public static readonly Primitive And = Binary("and", Kinds.IntOrBool, new()
    {
        Bool = BoolBits((x, z) => (byte)(x & z)),
        I32 = (a, b, y) => TP.BitwiseAnd(a, b, y), I64 = (a, b, y) => TP.BitwiseAnd(a, b, y), U32 = (a, b, y) => TP.BitwiseAnd(a, b, y),
    });
    public static readonly Primitive Or = Binary("or", Kinds.IntOrBool, new()
    {
        Bool = BoolBits((x, z) => (byte)(x | z)),
        I32 = (a, b, y) => TP.BitwiseOr(a, b, y), I64 = (a, b, y) => TP.BitwiseOr(a, b, y), U32 = (a, b, y) => TP.BitwiseOr(a, b, y),
    });
    public static readonly Primitive Xor = Binary("xor", Kinds.IntOrBool, new()
    {
        Bool = BoolBits((x, z) => (byte)(x ^ z)),
        I32 = (a, b, y) => TP.Xor(a, b, y), I64 = (a, b, y) => TP.Xor(a, b, y), U32 = (a, b, y) => TP.Xor(a, b, y),
    });
    /// <summary>shift_left: shifts of the bit width or more give 0, as XLA defines.</summary>
    public static readonly Primitive ShiftLeft = Binary("shift_left", Kinds.Int, new()
    {
        I32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = (uint)b[i] >= 32 ? 0 : a[i] << b[i]; },
        I64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = (ulong)b[i] >= 64 ? 0 : a[i] << (int)b[i]; },
        U32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] >= 32 ? 0 : a[i] << (int)b[i]; },
    });
    public static readonly Primitive ShiftRightLogical = Binary("shift_right_logical", Kinds.Int, new()
    {
        I32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = (uint)b[i] >= 32 ? 0 : (int)((uint)a[i] >> b[i]); },
        I64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = (ulong)b[i] >= 64 ? 0 : (long)((ulong)a[i] >> (int)b[i]); },
        U32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = b[i] >= 32 ? 0 : a[i] >> (int)b[i]; },
    });
    public static readonly Primitive ShiftRightArithmetic = Binary("shift_right_arithmetic", Kinds.Int, new()
    {
        I32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] >> (int)Math.Min((uint)b[i], 31u); },
        I64 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = a[i] >> (int)Math.Min((ulong)b[i], 63ul); },
        U32 = (a, b, y) => { for (int i = 0; i < a.Length; i++) y[i] = (uint)((int)a[i] >> (int)Math.Min(b[i], 31u)); },
    });

    public static readonly Primitive Eq = Comparison("eq", ComparisonKind.Eq);
    public static readonly Primitive Ne = Comparison("ne", ComparisonKind.Ne);
    public static readonly Primitive Lt = Comparison("lt", ComparisonKind.Lt);
    public static readonly Primitive Le = Comparison("le", ComparisonKind.Le);
    public static readonly Primitive Gt = Comparison("gt", ComparisonKind.Gt);
    public static readonly Primitive Ge = Comparison("ge", ComparisonKind.Ge);
}
