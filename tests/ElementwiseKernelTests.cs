namespace Jx.Tests;

/// <summary>The eager CPU kernels of the elementwise primitives, against System.Math (float64) and MathF (float32),
/// JAX/SciPy reference values for the special functions, and XLA's integer semantics.</summary>
public class ElementwiseKernelTests
{
    private static void Close(double expected, double actual, double rtol, double atol = 0)
    {
        if (double.IsNaN(expected)) { Assert.True(double.IsNaN(actual), $"expected NaN, got {actual}"); return; }
        if (double.IsInfinity(expected)) { Assert.Equal(expected, actual); return; }
        Assert.True(Math.Abs(expected - actual) <= atol + rtol * Math.Abs(expected), $"expected {expected:R}, got {actual:R}");
    }

    public static IEnumerable<object[]> UnaryCases()
    {
        yield return ["exp", new double[] { -3, -0.5, 0, 0.5, 1, 10 }];
        yield return ["exp2", new double[] { -3, -0.5, 0, 0.5, 1, 10 }];
        yield return ["expm1", new double[] { -3, -0.5, 0, 0.5, 1, 10 }];
        yield return ["log", new double[] { 0.1, 0.5, 1, 2, 100 }];
        yield return ["log1p", new double[] { -0.5, 0, 2, 100 }];
        yield return ["sqrt", new double[] { 0, 0.25, 2, 100 }];
        yield return ["rsqrt", new double[] { 0.25, 2, 100 }];
        yield return ["cbrt", new double[] { -8, -1, 0, 2, 27 }];
        yield return ["sin", new double[] { -3, -1, 0, 0.5, 1, 3 }];
        yield return ["cos", new double[] { -3, -1, 0, 0.5, 1, 3 }];
        yield return ["tan", new double[] { -1.5, -1, 0, 0.5, 1 }];
        yield return ["asin", new double[] { -1, -0.5, 0, 0.5, 1 }];
        yield return ["acos", new double[] { -1, -0.5, 0, 0.5, 1 }];
        yield return ["atan", new double[] { -10, -1, 0, 1, 10 }];
        yield return ["sinh", new double[] { -3, -0.5, 0, 1e-30, 1e-4, 0.5, 3 }];
        yield return ["cosh", new double[] { -3, -0.5, 0, 0.5, 3 }];
        yield return ["tanh", new double[] { -3, -0.5, 0, 1e-30, -1e-4, 0.5, 3 }];
        yield return ["asinh", new double[] { -3, -0.5, 0, 1e-30, 0.5, 3 }];
        yield return ["acosh", new double[] { 1, 1.5, 10 }];
        yield return ["atanh", new double[] { -0.9, 0, 1e-30, 0.5 }];
        yield return ["logistic", new double[] { -20, -1, 0, 1, 20 }];
        yield return ["floor", new double[] { -1.5, -0.5, 0, 0.5, 1.5, 2.7 }];
        yield return ["ceil", new double[] { -1.5, -0.5, 0, 0.5, 1.5, 2.7 }];
        yield return ["neg", new double[] { -1.5, 0, 2 }];
        yield return ["abs", new double[] { -1.5, 0, 2 }];
        yield return ["square", new double[] { -1.5, 0, 3 }];
    }

    private static Func<Tensor, Tensor> Op(string name) => name switch
    {
        "exp" => Lax.Exp, "exp2" => Lax.Exp2, "expm1" => Lax.Expm1, "log" => Lax.Log, "log1p" => Lax.Log1p,
        "sqrt" => Lax.Sqrt, "rsqrt" => Lax.Rsqrt, "cbrt" => Lax.Cbrt, "sin" => Lax.Sin, "cos" => Lax.Cos, "tan" => Lax.Tan,
        "asin" => Lax.Asin, "acos" => Lax.Acos, "atan" => Lax.Atan, "sinh" => Lax.Sinh, "cosh" => Lax.Cosh, "tanh" => Lax.Tanh,
        "asinh" => Lax.Asinh, "acosh" => Lax.Acosh, "atanh" => Lax.Atanh, "logistic" => Lax.Logistic, "floor" => Lax.Floor,
        "ceil" => Lax.Ceil, "neg" => Lax.Neg, "abs" => Lax.Abs, "square" => Lax.Square,
        _ => throw new ArgumentException(name),
    };

    private static Func<double, double> Ref64(string name) => name switch
    {
        "exp" => Math.Exp, "exp2" => x => Math.Pow(2, x), "expm1" => x => Math.Exp(x) - 1, "log" => Math.Log, "log1p" => x => Math.Log(1 + x),
        "sqrt" => Math.Sqrt, "rsqrt" => x => 1 / Math.Sqrt(x), "cbrt" => Math.Cbrt, "sin" => Math.Sin, "cos" => Math.Cos,
        "tan" => Math.Tan, "asin" => Math.Asin, "acos" => Math.Acos, "atan" => Math.Atan, "sinh" => Math.Sinh, "cosh" => Math.Cosh,
        "tanh" => Math.Tanh, "asinh" => Math.Asinh, "acosh" => Math.Acosh, "atanh" => Math.Atanh,
        "logistic" => x => 1 / (1 + Math.Exp(-x)), "floor" => Math.Floor, "ceil" => Math.Ceiling, "neg" => x => -x,
        "abs" => Math.Abs, "square" => x => x * x,
        _ => throw new ArgumentException(name),
    };

    private static Func<float, float> Ref32(string name) => name switch
    {
        "exp" => MathF.Exp, "exp2" => x => MathF.Pow(2, x), "expm1" => x => (float)Math.Exp(x) - 1, "log" => MathF.Log, "log1p" => x => (float)Math.Log(1.0 + x),
        "sqrt" => MathF.Sqrt, "rsqrt" => x => 1 / MathF.Sqrt(x), "cbrt" => MathF.Cbrt, "sin" => MathF.Sin, "cos" => MathF.Cos,
        "tan" => MathF.Tan, "asin" => MathF.Asin, "acos" => MathF.Acos, "atan" => MathF.Atan, "sinh" => x => (float)Math.Sinh(x), "cosh" => MathF.Cosh,
        "tanh" => x => (float)Math.Tanh(x), "asinh" => MathF.Asinh, "acosh" => MathF.Acosh, "atanh" => MathF.Atanh,
        "logistic" => x => 1 / (1 + MathF.Exp(-x)), "floor" => MathF.Floor, "ceil" => MathF.Ceiling, "neg" => x => -x,
        "abs" => MathF.Abs, "square" => x => x * x,
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryFloat64MatchesSystemMath(string name, double[] xs)
    {
        var y = Op(name)(Np.Array(xs));
        Assert.Equal(DType.Float64, y.DType);
        Assert.Equal(new Shape(xs.Length), y.Shape);
        var got = y.ToArray<double>();
        for (int i = 0; i < xs.Length; i++) Close(Ref64(name)(xs[i]), got[i], 1e-14, 1e-300);
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryFloat32MatchesMathF(string name, double[] xs)
    {
        var xf = xs.Select(x => (float)x).ToArray();
        var y = Op(name)(Np.Array(xf));
        Assert.Equal(DType.Float32, y.DType);
        var got = y.ToArray<float>();
        for (int i = 0; i < xf.Length; i++) Close(Ref32(name)(xf[i]), got[i], 4e-7, 1e-45);
    }

    [Theory]
    [MemberData(nameof(UnaryCases))]
    public void UnaryFloat32OnALargeArrayMatchesTheSmallOne(string name, double[] xs)
    {
        // Large arrays run in parallel chunks; every chunk must compute what a small array does.
        var xf = Enumerable.Range(0, 100_003).Select(i => (float)xs[i % xs.Length]).ToArray();
        var big = Op(name)(Np.Array(xf)).ToArray<float>();
        for (int i = 0; i < big.Length; i += 997) Close(Ref32(name)(xf[i]), big[i], 4e-7, 1e-45);
        Close(Ref32(name)(xf[100_002]), big[100_002], 4e-7, 1e-45);
    }

    [Fact]
    public void DomainErrorsGiveNaNLikeNumPy()
    {
        var nan = Np.Log(Np.Array(new[] { -1f, 0f })).ToArray<float>();
        Assert.True(float.IsNaN(nan[0]));
        Assert.Equal(float.NegativeInfinity, nan[1]);
        Assert.True(double.IsNaN(Np.Sqrt(Np.Array(new[] { -1.0 })).Item()));
        Assert.True(double.IsNaN(Np.Arcsin(Np.Array(new[] { 2.0 })).Item()));
        Assert.True(double.IsNaN(Np.Arccosh(Np.Array(new[] { 0.5f })).Item()));
        Assert.Equal(double.PositiveInfinity, Np.Arctanh(Np.Array(new[] { 1.0 })).Item());
        Assert.Equal(new[] { float.PositiveInfinity, float.NegativeInfinity }, Np.Divide(Np.Array(new[] { 1f, -1f }), 0f).ToArray<float>());
        Assert.True(float.IsNaN(Np.Divide(0f, Np.Array(new[] { 0f })).Item<float>()));
    }

    [Fact]
    public void Expm1Log1pSinhTanhAreAccurateNearZero()
    {
        // Values from Python's math module (correctly rounded libm results).
        Assert.Equal(new[] { 1.0000050000166668e-05, -9.999950000166666e-06, 1.00000000005e-10, 0 },
            Lax.Expm1(Np.Array(new[] { 1e-5, -1e-5, 1e-10, 0 })).ToArray<double>());
        Close(-0.3934693402873666, Lax.Expm1(Np.Array(new[] { -0.5 })).Item(), 4e-16);
        Close(1.0986122886681096, Lax.Log1p(Np.Array(new[] { 2.0 })).Item(), 4e-16);
        Assert.Equal(new[] { 9.999995000003334e-07, -1.0000005000003334e-06, 9.999999999500001e-11, 0 },
            Lax.Log1p(Np.Array(new[] { 1e-6, -1e-6, 1e-10, 0 })).ToArray<double>());
        Assert.Equal(9.999999966666668e-05, Lax.Tanh(Np.Array(new[] { 1e-4 })).Item());
        Assert.Equal(0.00010000000016666667, Lax.Sinh(Np.Array(new[] { 1e-4 })).Item());
        Assert.Equal(new[] { 0f, 1e-30f, 1.0000049769587349e-05f }, Lax.Expm1(Np.Array(new[] { 0f, 1e-30f, 1e-5f })).ToArray<float>());
        Assert.Equal(new[] { 0f, 1e-30f, 9.999999747378752e-05f }, Lax.Tanh(Np.Array(new[] { 0f, 1e-30f, 1e-4f })).ToArray<float>());
        Assert.Equal(new[] { 0f, -1e-30f }, Lax.Sinh(Np.Array(new[] { 0f, -1e-30f })).ToArray<float>());
        Assert.Equal(new[] { 0f, 1e-10f }, Lax.Log1p(Np.Array(new[] { 0f, 1e-10f })).ToArray<float>());
        Assert.Equal(new[] { double.NegativeInfinity, double.PositiveInfinity }, Lax.Log1p(Np.Array(new[] { -1.0, double.PositiveInfinity })).ToArray<double>());
        Assert.True(double.IsNaN(Lax.Log1p(Np.Array(new[] { -2.0 })).Item()));
        Assert.Equal(new[] { -1.0, double.PositiveInfinity }, Lax.Expm1(Np.Array(new[] { -800.0, 800 })).ToArray<double>());
    }

    [Fact]
    public void RoundingModes()
    {
        var x = Np.Array(new[] { -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 2.6 });
        Assert.Equal(new[] { -3.0, -2, -1, 1, 2, 3, 3 }, Lax.Round(x).ToArray<double>());
        Assert.Equal(new[] { -2.0, -2, -0.0, 0, 2, 2, 3 }, Lax.Round(x, 1).ToArray<double>());
        Assert.Equal(new[] { -2.0, -2, -0.0, 0, 2, 2, 3 }, Np.Round(x).ToArray<double>());
        Assert.Equal(new[] { 1.23, -1.24, 100 }, Np.Round(Np.Array(new[] { 1.2345, -1.2355, 100.0 }), 2).ToArray<double>());
        Assert.Equal(new[] { -2f, -0f, 1f, 2f }, Np.Trunc(Np.Array(new[] { -2.7f, -0.5f, 1.5f, 2.9f })).ToArray<float>());
        Assert.Equal(new[] { 3, -3 }, Np.Round(Np.Array(new[] { 3, -3 })).ToArray<int>());
    }

    [Fact]
    public void SignOfEveryKind()
    {
        var f = Lax.Sign(Np.Array(new[] { -2.5f, -0f, 0f, 3f, float.NaN })).ToArray<float>();
        Assert.Equal(-1f, f[0]);
        Assert.True(float.IsNegative(f[1]) && f[1] == 0);
        Assert.True(float.IsPositive(f[2]) && f[2] == 0);
        Assert.Equal(1f, f[3]);
        Assert.True(float.IsNaN(f[4]));
        Assert.Equal(new[] { -1, 0, 1 }, Lax.Sign(Np.Array(new[] { -7, 0, 9 })).ToArray<int>());
        Assert.Equal(new[] { -1L, 0, 1 }, Lax.Sign(Np.Array(new[] { long.MinValue, 0, 9 })).ToArray<long>());
        Assert.Equal(new[] { 0u, 1u }, Lax.Sign(Np.Array(new uint[] { 0, 4000000000u })).ToArray<uint>());
    }

    [Fact]
    public void IntegerUnaryOpsWrapAsXla()
    {
        Assert.Equal(new[] { int.MinValue, -5, 0 }, Lax.Neg(Np.Array(new[] { int.MinValue, 5, 0 })).ToArray<int>());
        Assert.Equal(new[] { int.MinValue, 5 }, Lax.Abs(Np.Array(new[] { int.MinValue, -5 })).ToArray<int>());
        Assert.Equal(new[] { 0u, 4294967291u }, Lax.Neg(Np.Array(new uint[] { 0, 5 })).ToArray<uint>());
        Assert.Equal(new[] { 0, 9 }, Lax.Square(Np.Array(new[] { 65536, -3 })).ToArray<int>());
        Assert.Equal(new[] { 1L << 40 }, Lax.Square(Np.Array(new[] { 1L << 20 })).ToArray<long>());
    }

    [Fact]
    public void NotOnBoolsAndIntegers()
    {
        Assert.Equal(new[] { false, true }, Lax.Not(Np.Array(new[] { true, false })).ToArray<bool>());
        Assert.Equal(new[] { -6, -1 }, Lax.Not(Np.Array(new[] { 5, 0 })).ToArray<int>());
        Assert.Equal(new[] { uint.MaxValue }, Lax.Not(Np.Array(new uint[] { 0 })).ToArray<uint>());
        Assert.Equal(new[] { ~(1L << 40) }, (~Np.Array(new[] { 1L << 40 })).ToArray<long>());
        Assert.Equal(new[] { false, true }, (!Np.Array(new[] { 2f, 0f })).ToArray<bool>());
    }

    [Fact]
    public void IntegerPow()
    {
        Assert.Equal(new[] { 8.0, -27, 0.125 }, Lax.IntegerPow(Np.Array(new[] { 2.0, -3, 0.5 }), 3).ToArray<double>());
        Assert.Equal(new[] { 0.25f, 0.0625f }, Lax.IntegerPow(Np.Array(new[] { 2f, -4f }), -2).ToArray<float>());
        Assert.Equal(new[] { 1, 1 }, Lax.IntegerPow(Np.Array(new[] { 0, 7 }), 0).ToArray<int>());
        Assert.Equal(new[] { 1024, 1024 }, Lax.IntegerPow(Np.Array(new[] { 2, -2 }), 10).ToArray<int>());
        Assert.Equal(new[] { -8L }, Lax.IntegerPow(Np.Array(new[] { -2L }), 3).ToArray<long>());
        Assert.Equal(new[] { 0 }, Lax.IntegerPow(Np.Array(new[] { 2 }), 32).ToArray<int>()); // wraps like int32 multiplication
        Assert.Throws<InvalidArgumentError>(() => Lax.IntegerPow(Np.Array(new[] { 2 }), -1));
        // Np.Power with an integer literal exponent is integer_pow; a float exponent is pow.
        Assert.Equal(new[] { 9f, 0.25f }, Np.Power(Np.Array(new[] { 3f, 0.5f }), 2).ToArray<float>());
        Assert.Equal(new[] { 27 }, Np.Power(Np.Array(new[] { 3 }), 3).ToArray<int>());
        Close(Math.Sqrt(2), Np.Power(Np.Array(new[] { 2.0 }), 0.5).Item(), 1e-15);
    }

    [Fact]
    public void PowSpecialValues()
    {
        var y = Lax.Pow(Np.Array(new[] { 0.0, -8, 2, -2 }), Np.Array(new[] { 0.0, 1.0 / 3, -1, 2 })).ToArray<double>();
        Assert.Equal(1.0, y[0]);
        Assert.True(double.IsNaN(y[1]));
        Assert.Equal(0.5, y[2]);
        Assert.Equal(4.0, y[3]);
        Assert.Throws<DTypeError>(() => Lax.Pow(Np.Array(new[] { 2 }), Np.Array(new[] { 2 })));
    }

    // ----- special functions: values from SciPy / JAX documentation -----

    public static IEnumerable<object[]> SpecialCases()
    {
        yield return ["erf", 0.5, 0.5204998778130465];
        yield return ["erf", 1.0, 0.8427007929497149];
        yield return ["erf", -2.0, -0.9953222650189527];
        yield return ["erf", 3.0, 0.9999779095030014];
        yield return ["erf", 0.0, 0.0];
        yield return ["erfc", 0.5, 0.4795001221869535];
        yield return ["erfc", 2.0, 0.004677734981047266];
        yield return ["erfc", 5.0, 1.5374597944280349e-12];
        yield return ["erfc", -1.0, 1.8427007929497148];
        yield return ["erfc", -30.0, 2.0];
        yield return ["erfc", 30.0, 0.0];
        yield return ["erf_inv", 0.5, 0.4769362762044699];
        yield return ["erf_inv", -0.9, -1.1630871536766743];
        yield return ["erf_inv", 0.999, 2.326753765513524];
        yield return ["erf_inv", 0.0, 0.0];
        yield return ["erf_inv", 1.0, double.PositiveInfinity];
        yield return ["erf_inv", -1.0, double.NegativeInfinity];
        yield return ["erf_inv", 1.5, double.NaN];
        yield return ["lgamma", 0.5, 0.5723649429247001];
        yield return ["lgamma", 1.0, 0.0];
        yield return ["lgamma", 2.0, 0.0];
        yield return ["lgamma", 10.0, 12.801827480081469];
        yield return ["lgamma", 100.0, 359.1342053695754];
        yield return ["lgamma", -0.5, 1.2655121234846454];
        yield return ["lgamma", 0.0, double.PositiveInfinity];
        yield return ["lgamma", -2.0, double.PositiveInfinity];
        yield return ["digamma", 1.0, -0.5772156649015329];
        yield return ["digamma", 0.5, -1.9635100260214235];
        yield return ["digamma", 10.0, 2.251752589066721];
        yield return ["digamma", -0.5, 0.03648997397857652];
    }

    [Fact]
    public void ErfInvFloat32IsGilesApproximationInEveryLane()
    {
        // float32 erf_inv is Giles' approximation alone (XLA's ErfInv32): within a few float32 ulp of the exact value
        // (float64 erf_inv, Newton-refined), the same in vector lanes and the scalar tail, ±1 → ±∞, outside → NaN.
        var ys = Enumerable.Range(0, 2003).Select(i => (float)(-1 + i / 1001.0)).Where(y => y > -1 && y < 1)
            .Concat([0.999999f, -0.9999999f, 1e-30f, -0f, 0.5f]).ToArray();
        var got = Lax.ErfInv(Tensor.FromArray(ys)).ToArray<float>();
        for (int i = 0; i < ys.Length; i++)
        {
            double exact = SpecialFunctions.ErfInv(ys[i]);
            Assert.True(Math.Abs(got[i] - exact) <= 4 * Math.Abs(MathF.BitIncrement((float)Math.Abs(exact)) - (float)Math.Abs(exact)) + 1e-45,
                $"erf_inv({ys[i]:R}) = {got[i]:R}, exact {exact:R}");
            // vector lanes and the scalar path agree to one float32 ulp (their double logs may differ in the last bit)
            var scalar = SpecialFunctions.ErfInvSingle(ys[i]);
            Assert.True(got[i] == scalar || MathF.BitIncrement(got[i]) == scalar || MathF.BitDecrement(got[i]) == scalar, $"erf_inv({ys[i]:R}): vector {got[i]:R}, scalar {scalar:R}");
        }
        // the edge cases in vector lanes (the first 16 elements) and in the scalar tail (the last 4)
        float[] edgeCases = [1f, -1f, 1.5f, float.NaN];
        var edges = Lax.ErfInv(Tensor.FromArray(edgeCases.Concat(Enumerable.Repeat(0.5f, 12)).Concat(edgeCases).ToArray())).ToArray<float>();
        foreach (int at in new[] { 0, 16 })
        {
            Assert.Equal(float.PositiveInfinity, edges[at]);
            Assert.Equal(float.NegativeInfinity, edges[at + 1]);
            Assert.True(float.IsNaN(edges[at + 2]) && float.IsNaN(edges[at + 3]));
        }
        Assert.Equal(0.47693628f, edges[4], 1e-7f);
    }

    private static Func<Tensor, Tensor> Special(string name) => name switch
    {
        "erf" => Lax.Erf, "erfc" => Lax.Erfc, "erf_inv" => Lax.ErfInv, "lgamma" => Lax.Lgamma, "digamma" => Lax.Digamma,
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(SpecialCases))]
    public void SpecialFunctionsFloat64(string name, double x, double expected)
    {
        var y = Special(name)(Np.Array(new[] { x }));
        Assert.Equal(DType.Float64, y.DType);
        Close(expected, y.Item(), 1e-14, 1e-16);
    }

    [Theory]
    [MemberData(nameof(SpecialCases))]
    public void SpecialFunctionsFloat32(string name, double x, double expected)
    {
        var y = Special(name)(Np.Array(new[] { (float)x }));
        Assert.Equal(DType.Float32, y.DType);
        // computed in double from the float32 input, then rounded to float32
        Close((float)expected, y.Item<float>(), 2e-6, 1e-7);
    }

    [Fact]
    public void SpecialFunctionsRejectIntegers()
    {
        var e = Assert.Throws<DTypeError>(() => Lax.Erf(Np.Array(new[] { 1 })));
        Assert.Contains("'erf'", e.Message);
        Assert.Contains("int32", e.Message);
    }

    // ----- binary float ops -----

    [Fact]
    public void BinaryFloatOpsMatchSystemMath()
    {
        var a = new[] { -2.5, -1, 0, 0.5, 3, 7.25 };
        var b = new[] { 2.0, -3, 1.5, 0.25, -2, 3 };
        var (ta, tb) = (Np.Array(a), Np.Array(b));
        var (fa, fb) = (ta.AsType(DType.Float32), tb.AsType(DType.Float32));
        void Check(Func<Tensor, Tensor, Tensor> op, Func<double, double, double> r64, Func<float, float, float> r32)
        {
            var y = op(ta, tb).ToArray<double>();
            var yf = op(fa, fb).ToArray<float>();
            for (int i = 0; i < a.Length; i++)
            {
                Close(r64(a[i], b[i]), y[i], 1e-15);
                Close(r32((float)a[i], (float)b[i]), yf[i], 3e-7);
            }
        }
        Check(Lax.Add, (x, y) => x + y, (x, y) => x + y);
        Check(Lax.Sub, (x, y) => x - y, (x, y) => x - y);
        Check(Lax.Mul, (x, y) => x * y, (x, y) => x * y);
        Check(Lax.Div, (x, y) => x / y, (x, y) => x / y);
        Check(Lax.Rem, (x, y) => x % y, (x, y) => x % y);
        Check(Lax.Max, Math.Max, MathF.Max);
        Check(Lax.Min, Math.Min, MathF.Min);
        Check(Lax.Atan2, Math.Atan2, MathF.Atan2);
        Check((x, y) => Lax.Pow(Lax.Abs(x), y), (x, y) => Math.Pow(Math.Abs(x), y), (x, y) => MathF.Pow(MathF.Abs(x), y));
    }

    [Fact]
    public void FloatRemainderHasTheDividendsSign()
    {
        Assert.Equal(new[] { -1.5f, 1.5f, -1.5f, 1.5f }, Lax.Rem(Np.Array(new[] { -7.5f, 7.5f, -7.5f, 7.5f }), Np.Array(new[] { 2f, 2f, -2f, -2f })).ToArray<float>());
        Assert.True(float.IsNaN(Lax.Rem(Np.Array(new[] { 1f }), Np.Array(new[] { 0f })).Item<float>()));
        Assert.Equal(new[] { 0.5f, 1.5f, -1.5f, -0.5f }, (Np.Array(new[] { -7.5f, 7.5f, -7.5f, 7.5f }) % Np.Array(new[] { 2f, 2f, -2f, -2f })).ToArray<float>());
        Assert.Equal(new[] { -1.5f, 1.5f }, Np.Fmod(Np.Array(new[] { -7.5f, 7.5f }), 2f).ToArray<float>());
    }

    [Fact]
    public void Atan2Quadrants()
    {
        var y = Lax.Atan2(Np.Array(new[] { 1.0, 1, -1, -0.0, 0.0 }), Np.Array(new[] { 1.0, -1, -1, -1, -1 })).ToArray<double>();
        Assert.Equal(new[] { Math.PI / 4, 3 * Math.PI / 4, -3 * Math.PI / 4, -Math.PI, Math.PI }, y);
    }

    [Fact]
    public void MaxAndMinPropagateNaN()
    {
        var a = Np.Array(new[] { float.NaN, 1f, 2f, float.NaN });
        var b = Np.Array(new[] { 0f, float.NaN, 1f, float.NaN });
        var mx = Np.Maximum(a, b).ToArray<float>();
        var mn = Np.Minimum(a, b).ToArray<float>();
        Assert.True(float.IsNaN(mx[0]) && float.IsNaN(mx[1]) && float.IsNaN(mx[3]));
        Assert.Equal(2f, mx[2]);
        Assert.True(float.IsNaN(mn[0]) && float.IsNaN(mn[1]) && float.IsNaN(mn[3]));
        Assert.Equal(1f, mn[2]);
        // With a broadcast scalar (the splat fast path) as well.
        Assert.True(float.IsNaN(Np.Maximum(Np.Array(new[] { float.NaN, 0f }), 1f).ToArray<float>()[0]));
        Assert.Equal(1f, Np.Maximum(Np.Array(new[] { float.NaN, 0f }), 1f).ToArray<float>()[1]);
        Assert.True(double.IsNaN(Np.Minimum(2.0, Np.Array(new[] { double.NaN })).Item()));
        Assert.True(double.IsNaN(Np.Clip(Np.Array(new[] { double.NaN }), 0, 1).Item()));
        Assert.Equal(new[] { 0.0, 0.5, 1 }, Np.Clip(Np.Array(new[] { -3.0, 0.5, 7 }), 0, 1).ToArray<double>());
    }

    [Fact]
    public void MaxMinOnIntegersAndBools()
    {
        Assert.Equal(new[] { 3, -1 }, Np.Maximum(Np.Array(new[] { 3, -5 }), Np.Array(new[] { 1, -1 })).ToArray<int>());
        Assert.Equal(new[] { 4000000000u }, Np.Maximum(Np.Array(new uint[] { 4000000000u }), Np.Array(new uint[] { 1 })).ToArray<uint>());
        Assert.Equal(new[] { true, true, false }, Lax.Max(Np.Array(new[] { true, false, false }), Np.Array(new[] { false, true, false })).ToArray<bool>());
        Assert.Equal(new[] { false, false, true }, Lax.Min(Np.Array(new[] { true, false, true }), Np.Array(new[] { false, true, true })).ToArray<bool>());
    }

    [Fact]
    public void NextAfter()
    {
        Assert.Equal(new[] { 1.0000001f, 0.99999994f, 2f }, Np.NextAfter(Np.Array(new[] { 1f, 1f, 2f }), Np.Array(new[] { 2f, 0f, 2f })).ToArray<float>());
        Assert.Equal(1.0000000000000002, Np.NextAfter(Np.Array(new[] { 1.0 }), 2.0).Item());
        Assert.Equal(-double.Epsilon, Np.NextAfter(Np.Array(new[] { 0.0 }), -1.0).Item());
        Assert.True(float.IsNaN(Np.NextAfter(Np.Array(new[] { float.NaN }), 1f).Item<float>()));
    }

    // ----- integers: XLA's division and remainder, NumPy's floor division -----

    [Fact]
    public void LaxDivAndRemTruncateLikeC()
    {
        var a = Np.Array(new[] { -7, 7, -7, 7, 6 });
        var b = Np.Array(new[] { 2, -2, -2, 2, 3 });
        Assert.Equal(new[] { -3, -3, 3, 3, 2 }, Lax.Div(a, b).ToArray<int>());
        Assert.Equal(new[] { -1, 1, -1, 1, 0 }, Lax.Rem(a, b).ToArray<int>());
        Assert.Equal(new[] { -3L, 3L }, Lax.Div(Np.Array(new[] { -7L, 7L }), Np.Array(new[] { 2L, 2L })).ToArray<long>());
    }

    [Fact]
    public void IntegerDivisionByZeroIsDefinedAsXla()
    {
        var a = Np.Array(new[] { 7, -7, 0 });
        var z = Np.Array(new[] { 0, 0, 0 });
        Assert.Equal(new[] { -1, -1, -1 }, Lax.Div(a, z).ToArray<int>());
        Assert.Equal(new[] { 7, -7, 0 }, Lax.Rem(a, z).ToArray<int>());
        Assert.Equal(new[] { uint.MaxValue }, Lax.Div(Np.Array(new uint[] { 7 }), Np.Array(new uint[] { 0 })).ToArray<uint>());
        Assert.Equal(new[] { 7u }, Lax.Rem(Np.Array(new uint[] { 7 }), Np.Array(new uint[] { 0 })).ToArray<uint>());
        Assert.Equal(new[] { -1L }, Lax.Div(Np.Array(new[] { 5L }), Np.Array(new[] { 0L })).ToArray<long>());
        // INT_MIN / -1 overflows to INT_MIN; the remainder is 0.
        Assert.Equal(new[] { int.MinValue }, Lax.Div(Np.Array(new[] { int.MinValue }), Np.Array(new[] { -1 })).ToArray<int>());
        Assert.Equal(new[] { 0 }, Lax.Rem(Np.Array(new[] { int.MinValue }), Np.Array(new[] { -1 })).ToArray<int>());
        Assert.Equal(new[] { long.MinValue }, Lax.Div(Np.Array(new[] { long.MinValue }), Np.Array(new[] { -1L })).ToArray<long>());
    }

    [Fact]
    public void FloorDivideAndRemainderFollowPython()
    {
        var a = Np.Array(new[] { -7, 7, -7, 7, 6, 0 });
        var b = Np.Array(new[] { 2, -2, -2, 2, 3, -3 });
        Assert.Equal(new[] { -4, -4, 3, 3, 2, 0 }, Np.FloorDivide(a, b).ToArray<int>());
        Assert.Equal(new[] { 1, -1, -1, 1, 0, 0 }, Np.Remainder(a, b).ToArray<int>());
        Assert.Equal(new[] { 1, -1, -1, 1, 0, 0 }, (a % b).ToArray<int>());
        // divmod identity a == (a // b) * b + a % b
        Assert.Equal(a.ToArray<int>(), (Np.FloorDivide(a, b) * b + a % b).ToArray<int>());
        // floats
        Assert.Equal(new[] { -4.0, -4, 3, 3 }, Np.FloorDivide(Np.Array(new[] { -7.0, 7, -7, 7 }), Np.Array(new[] { 2.0, -2, -2, 2 })).ToArray<double>());
        Assert.Equal(9.0, Np.FloorDivide(Np.Array(new[] { 1.0 }), 0.1).Item()); // Python: 1.0 // 0.1 == 9.0
        Assert.Equal(0.09999999999999995, Np.Remainder(Np.Array(new[] { 1.0 }), 0.1).Item()); // Python: 1.0 % 0.1
        Assert.Equal(new[] { 3u }, Np.FloorDivide(Np.Array(new uint[] { 7 }), Np.Array(new uint[] { 2 })).ToArray<uint>());
        // literal operands keep the array's dtype
        Assert.Equal(DType.Int32, Np.FloorDivide(Np.Array(new[] { 7 }), 2).DType);
        Assert.Equal(new[] { -4 }, Np.FloorDivide(Np.Array(new[] { -7 }), 2).ToArray<int>());
    }

    [Fact]
    public void FloorDivideAndRemainderByZeroFollowJax()
    {
        // jnp.floor_divide(x, 0) adjusts lax.div's -1 where the signs differ; jnp.remainder(x, 0) is 0 for integers.
        Assert.Equal(new[] { -2, -2, -1 }, Np.FloorDivide(Np.Array(new[] { 7, -7, 0 }), Np.Array(new[] { 0, 0, 0 })).ToArray<int>());
        Assert.Equal(new[] { 0, 0, 0 }, Np.Remainder(Np.Array(new[] { 7, -7, 0 }), Np.Array(new[] { 0, 0, 0 })).ToArray<int>());
        Assert.True(double.IsNaN(Np.Remainder(Np.Array(new[] { 1.0 }), 0.0).Item()));
    }

    [Fact]
    public void IntegerAddMulWrap()
    {
        Assert.Equal(new[] { int.MinValue }, (Np.Array(new[] { int.MaxValue }) + 1).ToArray<int>());
        Assert.Equal(new[] { 0u }, (Np.Array(new uint[] { uint.MaxValue }) + Np.Array(new uint[] { 1 })).ToArray<uint>());
        Assert.Equal(new[] { 0 }, (Np.Array(new[] { 65536 }) * 65536).ToArray<int>());
        Assert.Equal(new[] { long.MaxValue }, (Np.Array(new[] { long.MinValue }) - Np.Array(new[] { 1L })).ToArray<long>());
    }

    [Fact]
    public void BitwiseOps()
    {
        var a = Np.Array(new[] { 0b1100, -1 });
        var b = Np.Array(new[] { 0b1010, 5 });
        Assert.Equal(new[] { 0b1000, 5 }, (a & b).ToArray<int>());
        Assert.Equal(new[] { 0b1110, -1 }, (a | b).ToArray<int>());
        Assert.Equal(new[] { 0b0110, -6 }, (a ^ b).ToArray<int>());
        var t = Np.Array(new[] { true, true, false, false });
        var f = Np.Array(new[] { true, false, true, false });
        Assert.Equal(new[] { true, false, false, false }, (t & f).ToArray<bool>());
        Assert.Equal(new[] { true, true, true, false }, (t | f).ToArray<bool>());
        Assert.Equal(new[] { false, true, true, false }, (t ^ f).ToArray<bool>());
        Assert.Equal(new[] { false, true, true, false }, Np.LogicalXor(Np.Array(new[] { 2, 2, 0, 0 }), Np.Array(new[] { 1.0, 0, 3, 0 })).ToArray<bool>());
        Assert.Throws<DTypeError>(() => Lax.And(Np.Array(new[] { 1f }), Np.Array(new[] { 1f })));
    }

    [Fact]
    public void Shifts()
    {
        var one = Np.Array(new[] { 1, 1, 1, 1 });
        Assert.Equal(new[] { 2, int.MinValue, 0, 0 }, Lax.ShiftLeft(one, Np.Array(new[] { 1, 31, 32, -1 })).ToArray<int>());
        var m8 = Np.Array(new[] { -8, -8, -8, -8 });
        var s = Np.Array(new[] { 1, 3, 31, 40 });
        Assert.Equal(new[] { 2147483644, 536870911, 1, 0 }, Lax.ShiftRightLogical(m8, s).ToArray<int>());
        Assert.Equal(new[] { -4, -1, -1, -1 }, Lax.ShiftRightArithmetic(m8, s).ToArray<int>());
        Assert.Equal(new[] { 0xC0000000u, 0x40000000u }, new[]
        {
            Lax.ShiftRightArithmetic(Np.Array(new uint[] { 0x80000000u }), Np.Array(new uint[] { 1 })).Item<uint>(),
            Lax.ShiftRightLogical(Np.Array(new uint[] { 0x80000000u }), Np.Array(new uint[] { 1 })).Item<uint>(),
        });
        Assert.Equal(new[] { 1L << 40, 0 }, Lax.ShiftLeft(Np.Array(new[] { 1L, 1L }), Np.Array(new[] { 40L, 64L })).ToArray<long>());
        Assert.Throws<DTypeError>(() => Lax.ShiftLeft(Np.Array(new[] { 1f }), Np.Array(new[] { 1f })));
    }

    [Fact]
    public void ComparisonsWithNaN()
    {
        var a = Np.Array(new[] { float.NaN, 1f, 2f });
        var b = Np.Array(new[] { float.NaN, 1f, 3f });
        Assert.Equal(new[] { false, true, false }, Np.Equal(a, b).ToArray<bool>());
        Assert.Equal(new[] { true, false, true }, Np.NotEqual(a, b).ToArray<bool>());
        Assert.Equal(new[] { false, false, true }, (a < b).ToArray<bool>());
        Assert.Equal(new[] { false, true, true }, (a <= b).ToArray<bool>());
        Assert.Equal(new[] { false, false, false }, (a > b).ToArray<bool>());
        Assert.Equal(new[] { false, true, false }, (a >= b).ToArray<bool>());
        Assert.Equal(new[] { true, false, false }, Np.IsNan(a).ToArray<bool>());
    }

    [Fact]
    public void IsFiniteIsInfIsNan()
    {
        var x = Np.Array(new[] { 1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN });
        Assert.Equal(new[] { true, false, false, false }, Lax.IsFinite(x).ToArray<bool>());
        Assert.Equal(new[] { true, false, false, false }, Lax.IsFinite(x.AsType(DType.Float16)).ToArray<bool>());
        Assert.Equal(new[] { true, false, false, false }, Lax.IsFinite(x.AsType(DType.Float64)).ToArray<bool>());
        Assert.Equal(new[] { false, true, true, false }, Np.IsInf(x).ToArray<bool>());
        Assert.Equal(new[] { true, true }, Np.IsFinite(Np.Array(new[] { 1, 2 })).ToArray<bool>());
        Assert.Throws<DTypeError>(() => Lax.IsFinite(Np.Array(new[] { 1 })));
    }

    // ----- half precision: stored compactly, computed through float32 -----

    [Fact]
    public void Float16StorageRoundTrips()
    {
        var h = new[] { (Half)0.1f, (Half)(-2.5f), Half.MaxValue, Half.Epsilon, Half.NaN };
        var t = Np.Array(h);
        Assert.Equal(DType.Float16, t.DType);
        Assert.Equal(h, t.ToArray<Half>());
        Assert.Equal((double)(Half)0.1f, t.ToDoubleArray()[0]);
        // float32 -> float16 rounds to nearest even
        Assert.Equal(2048.0, Np.Array(new[] { 2049f }).AsType(DType.Float16).Item());
        Assert.Equal(2052.0, Np.Array(new[] { 2051f }).AsType(DType.Float16).Item());
        Assert.Equal(double.PositiveInfinity, Np.Array(new[] { 70000f }).AsType(DType.Float16).Item());
    }

    [Fact]
    public void BFloat16StorageRoundTripsAndRoundsToNearestEven()
    {
        var b = new[] { (BFloat16)1f, (BFloat16)(-3.5f), BFloat16.FromBits(0x7F80) };
        var t = Np.Array(b);
        Assert.Equal(DType.BFloat16, t.DType);
        Assert.Equal(new ushort[] { 0x3F80, 0xC060, 0x7F80 }, t.ToArray<BFloat16>().Select(x => x.Bits).ToArray());
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even gives 1; 1 + 3*2^-8 gives 1 + 2^-6
        Assert.Equal(1.0, Np.Array(new[] { 1.00390625f }).AsType(DType.BFloat16).Item());
        Assert.Equal(1.015625, Np.Array(new[] { 1.01171875f }).AsType(DType.BFloat16).Item());
        Assert.Equal(0.10009765625, Np.Array(new[] { 0.1f }).AsType(DType.BFloat16).Item());
        Assert.True(float.IsNaN((float)(BFloat16)float.NaN));
    }

    [Fact]
    public void HalfPrecisionOpsComputeInFloat32AndRoundTheResult()
    {
        var h = Np.Array(new[] { 2048f }).AsType(DType.Float16);
        var y = h + Np.Array(new[] { 1f }).AsType(DType.Float16);
        Assert.Equal(DType.Float16, y.DType);
        Assert.Equal(2048.0, y.Item()); // 2049 is not a float16; ties to even
        var b = Np.Array(new[] { 1f }).AsType(DType.BFloat16);
        var yb = b + Np.Array(new[] { 0.00390625f }).AsType(DType.BFloat16);
        Assert.Equal(DType.BFloat16, yb.DType);
        Assert.Equal(1.0, yb.Item());
        Assert.Equal(1.5, (b * 1.5).Item());
        Assert.Equal((double)(BFloat16)MathF.Sin(1f), Np.Sin(b).Item());
        Assert.Equal((double)(Half)MathF.Exp(1f), Np.Exp(Np.Array(new[] { 1f }).AsType(DType.Float16)).Item());
        Assert.Equal((double)(Half)MathF.Sqrt(2f), Lax.Sqrt(Np.Array(new[] { 2f }).AsType(DType.Float16)).Item());
        Assert.Equal(new[] { true, false }, (Np.Array(new[] { 1f, 3f }).AsType(DType.Float16) < 2).ToArray<bool>());
        Assert.Equal(DType.Float16, Lax.Erf(Np.Array(new[] { 0.5f }).AsType(DType.Float16)).DType);
        Assert.Equal((double)(Half)0.5204998778130465, Lax.Erf(Np.Array(new[] { 0.5f }).AsType(DType.Float16)).Item());
    }

    [Fact]
    public void ConvertElementTypeSemantics()
    {
        // float -> int truncates toward zero and saturates; NaN -> 0
        var f = Np.Array(new[] { 2.7f, -2.7f, 3e10f, -3e10f, float.NaN });
        Assert.Equal(new[] { 2, -2, int.MaxValue, int.MinValue, 0 }, f.AsType(DType.Int32).ToArray<int>());
        Assert.Equal(new[] { 2u, 0u, uint.MaxValue, 0u, 0u }, f.AsType(DType.UInt32).ToArray<uint>());
        // int -> int wraps
        Assert.Equal(new[] { -1 }, Np.Array(new[] { 4294967295L }).AsType(DType.Int32).ToArray<int>());
        Assert.Equal(new[] { 4294967295u }, Np.Array(new[] { -1 }).AsType(DType.UInt32).ToArray<uint>());
        // -> bool is x != 0
        Assert.Equal(new[] { true, false, true }, Np.Array(new[] { 0.5, 0, double.NaN }).AsType(DType.Bool).ToArray<bool>());
        Assert.Equal(new[] { 1f, 0f }, Np.Array(new[] { true, false }).AsType(DType.Float32).ToArray<float>());
        // bitcast
        Assert.Equal(new[] { 0x3F800000 }, Lax.BitcastConvertType(Np.Array(new[] { 1f }), DType.Int32).ToArray<int>());
        Assert.Throws<DTypeError>(() => Lax.BitcastConvertType(Np.Array(new[] { 1f }), DType.Float64));
    }

    // ----- every elementwise primitive runs for every dtype its shape rule accepts -----

    private static readonly DType[] AllDTypes = [DType.Bool, DType.Int32, DType.Int64, DType.UInt32, DType.Float16, DType.BFloat16, DType.Float32, DType.Float64];

    private static Params ParamsFor(string name) => name switch
    {
        "round" => Params.Of(("rounding_method", 1)),
        "integer_pow" => Params.Of(("y", 3)),
        _ => Params.Empty,
    };

    private static int Arity(Primitive p)
    {
        try { p.OutputAvals([new Aval(new Shape(2), DType.Float32)], ParamsFor(p.Name)); return 1; }
        catch (InvalidArgumentError) { return 2; }
        catch (DTypeError) { return 1; }
    }

    [Fact]
    public void EveryElementwisePrimitiveRunsForEveryAcceptedDType()
    {
        string[] special = ["clamp", "select_n", "convert_element_type", "bitcast_convert_type"];
        var prims = PrimitiveRegistry.All.Where(p => p.Family == "elementwise" && !special.Contains(p.Name)).ToList();
        Assert.True(prims.Count >= 55, $"only {prims.Count} elementwise primitives");
        var ran = new List<string>();
        foreach (var p in prims)
        {
            int arity = Arity(p);
            var ps = ParamsFor(p.Name);
            foreach (var d in AllDTypes)
            {
                var avals = Enumerable.Repeat(new Aval(new Shape(4), d), arity).ToArray();
                Aval[] outs;
                try { outs = p.OutputAvals(avals, ps); }
                catch (DTypeError) { continue; }
                // a full array, and a broadcast scalar (a splat buffer) as the second operand
                var x = Np.Array(new[] { 1f, 2f, 3f, 0.5f }).AsType(d);
                var ops = arity == 1 ? new[] { x } : [x, Np.Full([4], 2, d)];
                var y = p.Bind(ops, ps);
                Assert.Single(y);
                Assert.Equal(outs[0].Shape, y[0].Shape);
                Assert.Equal(outs[0].DType, y[0].DType);
                Assert.Equal(4, y[0].ToDoubleArray().Length);
                if (arity == 2)
                {
                    var swapped = p.Bind([Np.Full([4], 2, d), x], ps)[0];
                    Assert.Equal(outs[0].DType, swapped.DType);
                }
                ran.Add($"{p.Name}:{d.ShortName()}");
            }
        }
        // spot checks that the loop really covered the kinds
        Assert.Contains("add:u32", ran);
        Assert.Contains("sin:bf16", ran);
        Assert.Contains("not:bool", ran);
        Assert.Contains("max:bool", ran);
        Assert.Contains("shift_left:i64", ran);
        Assert.Contains("lt:f16", ran);
        Assert.DoesNotContain("sin:i32", ran);
        Assert.DoesNotContain("add:bool", ran);
    }

    [Fact]
    public void SelectN()
    {
        var a = Np.Array(new[] { 1f, 2f, 3f });
        var b = Np.Array(new[] { 10f, 20f, 30f });
        Assert.Equal(new[] { 1f, 20f, 3f }, Lax.Select(Np.Array(new[] { true, false, true }), a, b).ToArray<float>());
        Assert.Equal(new[] { 10f, 20f, 30f }, Lax.Select(Tensor.Scalar(false), a, b).ToArray<float>());
        var c = Np.Array(new[] { 100f, 200f, 300f });
        Assert.Equal(new[] { 1f, 200f, 30f }, Lax.SelectN(Np.Array(new[] { 0, 2, 1 }), a, b, c).ToArray<float>());
        Assert.Throws<DTypeError>(() => Lax.SelectN(Np.Array(new[] { true, false, true }), a, b, c));
        Assert.Throws<DTypeError>(() => Lax.SelectN(Np.Array(new[] { 0f, 1f, 0f }), a, b));
        Assert.Throws<ShapeError>(() => Lax.Select(Np.Array(new[] { true, false }), a, b));
        Assert.Throws<DTypeError>(() => Lax.Select(Tensor.Scalar(true), a, Np.Array(new[] { 1, 2, 3 })));
    }

    [Fact]
    public void Clamp()
    {
        var x = Np.Array(new[] { -2f, 0.5f, 7f, float.NaN });
        var y = Lax.Clamp(Tensor.Scalar(0f), x, Tensor.Scalar(1f)).ToArray<float>();
        Assert.Equal(new[] { 0f, 0.5f, 1f }, y[..3]);
        Assert.True(float.IsNaN(y[3]));
        Assert.Equal(new[] { 0, 3, 5 }, Lax.Clamp(Np.Array(new[] { 0, 1, 2 }), Np.Array(new[] { -1, 3, 9 }), Np.Array(new[] { 4, 4, 5 })).ToArray<int>());
        Assert.Throws<DTypeError>(() => Lax.Clamp(Tensor.Scalar(0), x, Tensor.Scalar(1f)));
        Assert.Throws<ShapeError>(() => Lax.Clamp(Np.Zeros([2]), x, Tensor.Scalar(1f)));
    }
}
