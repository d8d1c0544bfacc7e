namespace Jx.Tests;

/// <summary>JAX's type promotion (jax/_src/dtypes.py: the lattice b1 → i* → {u32, i32} → i64 → f* → {bf16, f16} → f32 → f64,
/// restricted to Jx's dtypes) with weak types for C# literals.</summary>
public class TypePromotionTests
{
    private static readonly DType[] All = [DType.Bool, DType.UInt32, DType.Int32, DType.Int64, DType.BFloat16, DType.Float16, DType.Float32, DType.Float64];

    private static (DType, bool) R(params (DType, bool)[] ts) => TypePromotion.ResultType(ts);
    private static (DType, bool) S(DType d) => (d, false);
    private static (DType, bool) W(DType d) => (d, true);

    // Rows and columns in the order of All; the table of JAX's type promotion documentation for these dtypes.
    private static readonly string[,] Table =
    {
        //          b1      u32     i32     i64     bf16    f16     f32     f64
        /* b1  */ { "bool", "u32", "i32", "i64", "bf16", "f16", "f32", "f64" },
        /* u32 */ { "u32", "u32", "i64", "i64", "bf16", "f16", "f32", "f64" },
        /* i32 */ { "i32", "i64", "i32", "i64", "bf16", "f16", "f32", "f64" },
        /* i64 */ { "i64", "i64", "i64", "i64", "bf16", "f16", "f32", "f64" },
        /* bf16*/ { "bf16", "bf16", "bf16", "bf16", "bf16", "f32", "f32", "f64" },
        /* f16 */ { "f16", "f16", "f16", "f16", "f32", "f16", "f32", "f64" },
        /* f32 */ { "f32", "f32", "f32", "f32", "f32", "f32", "f32", "f64" },
        /* f64 */ { "f64", "f64", "f64", "f64", "f64", "f64", "f64", "f64" },
    };

    [Fact]
    public void StrongTypesFollowJaxsTable()
    {
        for (int i = 0; i < All.Length; i++)
            for (int j = 0; j < All.Length; j++)
            {
                var (d, weak) = R(S(All[i]), S(All[j]));
                Assert.Equal(Table[i, j], d.ShortName());
                Assert.False(weak);
                Assert.Equal(d, TypePromotion.Promote(All[i], All[j]));
            }
    }

    // JAX's table columns i* and f* (weak int, weak float): a weak operand gives way to the strong one, except that a
    // weak float beats every integer and bool (the result is then a weak float32).
    [Theory]
    [InlineData(DType.Bool, "i32", true, "f32", true)]
    [InlineData(DType.UInt32, "u32", false, "f32", true)]
    [InlineData(DType.Int32, "i32", false, "f32", true)]
    [InlineData(DType.Int64, "i64", false, "f32", true)]
    [InlineData(DType.BFloat16, "bf16", false, "bf16", false)]
    [InlineData(DType.Float16, "f16", false, "f16", false)]
    [InlineData(DType.Float32, "f32", false, "f32", false)]
    [InlineData(DType.Float64, "f64", false, "f64", false)]
    public void WeakLiteralColumns(DType strong, string withWeakInt, bool weakIntResultIsWeak, string withWeakFloat, bool weakFloatResultIsWeak)
    {
        var (di, wi) = R(S(strong), W(DType.Int32));
        Assert.Equal(withWeakInt, di.ShortName());
        Assert.Equal(weakIntResultIsWeak, wi);
        var (df, wf) = R(W(DType.Float32), S(strong));
        Assert.Equal(withWeakFloat, df.ShortName());
        Assert.Equal(weakFloatResultIsWeak, wf);
    }

    [Fact]
    public void WeakWithWeak()
    {
        Assert.Equal((DType.Int32, true), R(W(DType.Int32), W(DType.Int32)));
        Assert.Equal((DType.Float32, true), R(W(DType.Int32), W(DType.Float32)));
        Assert.Equal((DType.Float32, true), R(W(DType.Float32), W(DType.Float32)));
        // All weak: the bound of the strong counterparts, still weak (independent of the operand order).
        Assert.Equal((DType.Float64, true), R(W(DType.Float64), W(DType.Float32)));
        Assert.Equal((DType.Float64, true), R(W(DType.Float32), W(DType.Float64)));
        Assert.Equal((DType.Float64, true), R(W(DType.Int32), W(DType.Float64)));
        // A weak and a strong operand of one dtype: strong.
        Assert.Equal((DType.Float32, false), R(W(DType.Float32), S(DType.Float32)));
        Assert.Equal((DType.Bool, false), R(S(DType.Bool), S(DType.Bool)));
        Assert.Equal((DType.Float64, true), R(W(DType.Float64)));
        Assert.Throws<InvalidArgumentError>(() => TypePromotion.ResultType());
    }

    [Fact]
    public void ThreeOperands()
    {
        Assert.Equal((DType.Int64, false), R(S(DType.UInt32), S(DType.Int32), W(DType.Int32)));
        Assert.Equal((DType.Float32, false), R(S(DType.BFloat16), S(DType.Float16), W(DType.Float32)));
        Assert.Equal((DType.Float16, false), R(S(DType.Bool), S(DType.Int64), S(DType.Float16)));
    }

    [Fact]
    public void Float32TimesIntLiteralStaysFloat32()
    {
        var x = Np.Array(new[] { 1.5f, 2f });
        var y = x * 2;
        Assert.Equal(DType.Float32, y.DType);
        Assert.False(y.WeakType);
        Assert.Equal(new[] { 3f, 4f }, y.ToArray<float>());
    }

    [Fact]
    public void Float32TimesFloatLiteralStaysFloat32()
    {
        var y = Np.Array(new[] { 1f, 2f }) * 2.5;
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(new[] { 2.5f, 5f }, y.ToArray<float>());
    }

    [Fact]
    public void Int32PlusIntLiteralStaysInt32()
    {
        var y = Np.Array(new[] { 1, 2 }) + 2;
        Assert.Equal(DType.Int32, y.DType);
        Assert.False(y.WeakType);
        Assert.Equal(new[] { 3, 4 }, y.ToArray<int>());
    }

    [Fact]
    public void Int32PlusFloatLiteralIsWeakFloat32()
    {
        var y = Np.Array(new[] { 1, 2 }) + 2.5;
        Assert.Equal(DType.Float32, y.DType);
        Assert.True(y.WeakType);
        Assert.Equal(new[] { 3.5f, 4.5f }, y.ToArray<float>());
        // The weak float32 then gives way to a float64 array.
        var z = y + Np.Array(new[] { 0.25, 0.5 });
        Assert.Equal(DType.Float64, z.DType);
        Assert.False(z.WeakType);
    }

    [Fact]
    public void Uint32PlusInt32IsInt64()
    {
        var y = Np.Array(new uint[] { 4000000000u }) + Np.Array(new[] { -1 });
        Assert.Equal(DType.Int64, y.DType);
        Assert.Equal(3999999999L, y.Item<long>());
    }

    [Fact]
    public void Int64PlusFloat32IsFloat32()
    {
        var y = Np.Array(new long[] { 3 }) + Np.Array(new[] { 0.5f });
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(3.5f, y.Item<float>());
    }

    [Fact]
    public void BFloat16PlusFloat16IsFloat32()
    {
        var a = Np.Array(new[] { 1f }).AsType(DType.BFloat16);
        var b = Np.Array(new[] { 2f }).AsType(DType.Float16);
        var y = a + b;
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(3f, y.Item<float>());
        Assert.Equal(DType.BFloat16, (a * 2.5).DType);
        Assert.Equal(DType.Float16, (b + 1).DType);
    }

    [Fact]
    public void BoolPlusBoolIsBool()
    {
        var a = Np.Array(new[] { true, false, true });
        var b = Np.Array(new[] { true, false, false });
        var y = a + b;
        Assert.Equal(DType.Bool, y.DType);
        // jnp.add on bools is a logical or, jnp.multiply a logical and
        Assert.Equal(new[] { true, false, true }, y.ToArray<bool>());
        Assert.Equal(new[] { true, false, false }, (a * b).ToArray<bool>());
        Assert.Equal(DType.Bool, (a * b).DType);
        Assert.Equal(DType.Int32, (a + 1).DType);
        Assert.Equal(DType.Float32, (a * 0.5).DType);
    }

    [Fact]
    public void Float64LiteralKeepsDoublePrecision()
    {
        var x = Np.Array(new[] { 1.0, 3.0 });
        var y = x * 0.1;
        Assert.Equal(DType.Float64, y.DType);
        Assert.Equal(new[] { 0.1, 0.30000000000000004 }, y.ToArray<double>());
        Assert.Equal(0.1, (Np.Ones([1], DType.Float64) * 0.1).Item<double>());
        Assert.Equal(1.0 / 3.0, (Np.Array(new[] { 1.0 }) / 3.0).Item<double>());
        // A float literal is a C# float, so it promotes from its float value.
        Assert.Equal((double)0.1f, (Np.Ones([1], DType.Float64) * 0.1f).Item<double>());
        // In a float32 context the literal rounds to float32.
        Assert.Equal(0.1f, (Np.Ones([1]) * 0.1).Item<float>());
    }

    [Fact]
    public void NpResultTypeAndPromoteDTypes()
    {
        Assert.Equal((DType.Float32, true), Np.ResultType(Np.Array(new[] { 1 }), 2.5));
        var p = Np.PromoteDTypes(Np.Array(new[] { 1 }), Np.Array(new uint[] { 2 }));
        Assert.All(p, t => Assert.Equal(DType.Int64, t.DType));
        Assert.Equal(new[] { 1L }, p[0].ToArray<long>());
    }

    [Fact]
    public void IntDivisionPromotesToFloat()
    {
        var y = Np.Divide(Np.Array(new[] { 7 }), Np.Array(new[] { 2 }));
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(3.5f, y.Item<float>());
        Assert.Equal(DType.Float32, Np.Sin(Np.Array(new[] { true })).DType);
        Assert.Equal(DType.Float16, Np.Exp(Np.Array(new[] { 1f }).AsType(DType.Float16)).DType);
    }

    [Fact]
    public void LiteralsAloneStayWeak()
    {
        var y = Np.Add(2, 3);
        Assert.Equal(DType.Int32, y.DType);
        Assert.True(y.WeakType);
        var z = Np.Multiply(2, 1.5);
        Assert.Equal(DType.Float32, z.DType);
        Assert.True(z.WeakType);
        Assert.Equal(3f, z.Item<float>());
    }
}
