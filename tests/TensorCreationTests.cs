namespace Jx.Tests;

/// <summary>Making tensors: from C# arrays (flat, multidimensional, jagged), scalars and the Np creation functions,
/// with exact values, shapes and dtypes; reading them back with ToArray / Item.</summary>
public class TensorCreationTests
{
    [Fact]
    public void FromFlatFloatArrayCopiesTheData()
    {
        var data = new float[] { 1.5f, -2f, 3.25f };
        var t = Np.Array(data);
        data[0] = 100f; // the tensor owns a copy
        Assert.Equal(DType.Float32, t.DType);
        Assert.Equal(new Shape(3), t.Shape);
        Assert.False(t.WeakType);
        Assert.True(t.IsConcrete);
        Assert.Equal(new[] { 1.5f, -2f, 3.25f }, t.ToArray<float>());
    }

    [Fact]
    public void ToArrayReturnsACopy()
    {
        var t = Np.Array(new[] { 1, 2, 3 });
        var a = t.ToArray<int>();
        a[0] = 42;
        Assert.Equal(new[] { 1, 2, 3 }, t.ToArray<int>());
    }

    [Fact]
    public void FromDouble2DIsRowMajorFloat64()
    {
        var t = Np.Array(new double[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.Equal(DType.Float64, t.DType);
        Assert.Equal(new Shape(2, 3), t.Shape);
        Assert.Equal(new double[] { 1, 2, 3, 4, 5, 6 }, t.ToArray<double>());
        Assert.Equal(6.0, t[1, 2].Item<double>());
    }

    [Fact]
    public void FromInt3DIsRowMajorInt32()
    {
        var data = new int[2, 3, 4];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 4; k++) data[i, j, k] = 100 * i + 10 * j + k;
        var t = Np.Array(data);
        Assert.Equal(DType.Int32, t.DType);
        Assert.Equal(new Shape(2, 3, 4), t.Shape);
        var flat = t.ToArray<int>();
        Assert.Equal(24, flat.Length);
        Assert.Equal(0, flat[0]);
        Assert.Equal(3, flat[3]);
        Assert.Equal(10, flat[4]);
        Assert.Equal(100, flat[12]);
        Assert.Equal(123, flat[23]);
        Assert.Equal(112, t[1, 1, 2].Item<int>());
    }

    [Fact]
    public void FromOtherElementTypes()
    {
        Assert.Equal(DType.Int64, Np.Array(new long[] { 1L << 40 }).DType);
        Assert.Equal(1L << 40, Np.Array(new long[] { 1L << 40 }).Item<long>());
        Assert.Equal(DType.UInt32, Np.Array(new uint[] { 4000000000u }).DType);
        Assert.Equal(4000000000u, Np.Array(new uint[] { 4000000000u }).Item<uint>());
        Assert.Equal(DType.Bool, Np.Array(new bool[,] { { true, false }, { false, true } }).DType);
        Assert.Equal(new[] { true, false, false, true }, Np.Array(new bool[,] { { true, false }, { false, true } }).ToArray<bool>());
    }

    [Fact]
    public void FromHalfAndBFloat16MultidimensionalArrays()
    {
        var h = Np.Array(new Half[,] { { (Half)1.5f, (Half)(-2f) }, { (Half)0.25f, (Half)65504f } });
        Assert.Equal(DType.Float16, h.DType);
        Assert.Equal(new Shape(2, 2), h.Shape);
        Assert.Equal(new double[] { 1.5, -2, 0.25, 65504 }, h.ToDoubleArray());
        var b = Np.Array(new BFloat16[,] { { (BFloat16)1f, (BFloat16)3f } });
        Assert.Equal(DType.BFloat16, b.DType);
        Assert.Equal(new double[] { 1, 3 }, b.ToDoubleArray());
    }

    [Fact]
    public void FromJaggedArrays()
    {
        var t = Np.Array(new float[][] { [1, 2, 3], [4, 5, 6] });
        Assert.Equal(DType.Float32, t.DType);
        Assert.Equal(new Shape(2, 3), t.Shape);
        Assert.Equal(new float[] { 1, 2, 3, 4, 5, 6 }, t.ToArray<float>());

        var t3 = Np.Array(new int[][][] { [[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 10], [11, 12]] });
        Assert.Equal(new Shape(3, 2, 2), t3.Shape);
        Assert.Equal(Enumerable.Range(1, 12).ToArray(), t3.ToArray<int>());
    }

    [Fact]
    public void RaggedJaggedArrayNamesTheBadRow()
    {
        var e = Assert.Throws<InvalidArgumentError>(() => Np.Array(new float[][] { [1, 2, 3], [4, 5, 6], [7, 8] }));
        Assert.Contains("Np.Array", e.Message);
        Assert.Contains("data[2] has length 2, expected 3", e.Message);

        var e3 = Assert.Throws<InvalidArgumentError>(() => Np.Array(new int[][][] { [[1, 2], [3, 4]], [[5, 6], [7]] }));
        Assert.Contains("data[1][1] has length 1, expected 2", e3.Message);
    }

    [Fact]
    public void ScalarsAndLiterals()
    {
        var s = Tensor.Scalar(2.5f);
        Assert.Equal(0, s.Rank);
        Assert.Equal(Shape.Scalar, s.Shape);
        Assert.Equal(1, s.Size);
        Assert.False(s.WeakType);
        Assert.Equal(2.5f, s.Item<float>());

        Tensor lit = 3;
        Assert.True(lit.WeakType);
        Assert.Equal(DType.Int32, lit.DType);
        Tensor f = 0.5;
        Assert.True(f.WeakType);
        Assert.Equal(DType.Float32, f.DType);
        Tensor b = true;
        Assert.False(b.WeakType);
        Assert.Equal(DType.Bool, b.DType);

        Assert.Equal(DType.Float64, Np.Array(1.0).DType);
        Assert.False(Np.Array(1.0).WeakType);
        Assert.Equal(DType.Int32, Np.Array(7).DType);
        Assert.Equal(DType.Bool, Np.Array(false).DType);
    }

    [Fact]
    public void LongLiteralOutsideInt32IsATypedError()
    {
        Tensor ok = 5L;
        Assert.Equal(5, ok.Item<int>());
        var e = Assert.Throws<DTypeError>(() => { Tensor t = 1L << 40; return t; });
        Assert.Contains("1099511627776", e.Message);
        Assert.Contains("int32", e.Message);
    }

    [Fact]
    public void ZerosOnesFull()
    {
        var z = Np.Zeros([2, 3]);
        Assert.Equal(DType.Float32, z.DType);
        Assert.Equal(new Shape(2, 3), z.Shape);
        Assert.Equal(new float[6], z.ToArray<float>());

        var o = Np.Ones([4], DType.Int64);
        Assert.Equal(DType.Int64, o.DType);
        Assert.Equal(new long[] { 1, 1, 1, 1 }, o.ToArray<long>());

        var f = Np.Full([2, 2], 0.1, DType.Float64);
        Assert.Equal(new[] { 0.1, 0.1, 0.1, 0.1 }, f.ToArray<double>());
        var f32 = Np.Full([3], 0.1);
        Assert.Equal(new[] { 0.1f, 0.1f, 0.1f }, f32.ToArray<float>());
        var fi = Np.Full([2], 7.9, DType.Int32);
        Assert.Equal(new[] { 7, 7 }, fi.ToArray<int>()); // converts like lax.convert_element_type: truncation
        var fb = Np.Full([2], true);
        Assert.Equal(new[] { true, true }, fb.ToArray<bool>());
        Assert.Equal(new Shape(0, 3), Np.Zeros([0, 3]).Shape);
        Assert.Empty(Np.Zeros([0, 3]).ToArray<float>());
        Assert.Equal(0f, Np.Zeros([]).Item<float>());
    }

    [Fact]
    public void ZerosLikeAndOnesLikeKeepShapeAndDType()
    {
        var x = Np.Array(new int[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var z = Np.ZerosLike(x);
        Assert.Equal(DType.Int32, z.DType);
        Assert.Equal(new Shape(2, 3), z.Shape);
        Assert.Equal(new int[6], z.ToArray<int>());
        var o = Np.OnesLike(x, DType.Float16);
        Assert.Equal(DType.Float16, o.DType);
        Assert.Equal(Enumerable.Repeat(1.0, 6).ToArray(), o.ToDoubleArray());
        var fl = Np.FullLike(Np.Zeros([2], DType.Float64), 2.5);
        Assert.Equal(new[] { 2.5, 2.5 }, fl.ToArray<double>());
        // like jnp.zeros_like, a weakly typed operand gives a weakly typed result unless a dtype is given
        Tensor weak = 2.5;
        Assert.True(Np.ZerosLike(weak).WeakType);
        Assert.False(Np.ZerosLike(weak, DType.Float32).WeakType);
        Assert.False(Np.OnesLike(x).WeakType);
    }

    [Fact]
    public void ArangeIntegersGiveInt32()
    {
        var a = Np.Arange(5);
        Assert.Equal(DType.Int32, a.DType);
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, a.ToArray<int>());
        Assert.Equal(new[] { 2, 5, 8 }, Np.Arange(2, 10, 3).ToArray<int>());
        Assert.Equal(new[] { 5, 4, 3, 2, 1 }, Np.Arange(5, 0, -1).ToArray<int>());
        Assert.Equal(DType.Int32, Np.Arange(2, 10, 3).DType);
        Assert.Empty(Np.Arange(0).ToArray<int>());
        Assert.Empty(Np.Arange(3, 1).ToArray<int>());
        Assert.Equal(new Shape(0), Np.Arange(-4).Shape);
    }

    [Fact]
    public void ArangeWithAFractionGivesFloat32()
    {
        var a = Np.Arange(0, 1, 0.25);
        Assert.Equal(DType.Float32, a.DType);
        Assert.Equal(new[] { 0f, 0.25f, 0.5f, 0.75f }, a.ToArray<float>());
        var b = Np.Arange(0.5, 3);
        Assert.Equal(DType.Float32, b.DType);
        Assert.Equal(new[] { 0.5f, 1.5f, 2.5f }, b.ToArray<float>());
        // jnp.arange(0, 1, 0.1) has 10 elements
        Assert.Equal(10, Np.Arange(0, 1, 0.1).Size);
        var d = Np.Arange(3, DType.Float64);
        Assert.Equal(DType.Float64, d.DType);
        Assert.Equal(new[] { 0.0, 1, 2 }, d.ToArray<double>());
    }

    [Fact]
    public void ArangeZeroStepIsAnError()
    {
        var e = Assert.Throws<InvalidArgumentError>(() => Np.Arange(0, 5, 0));
        Assert.Contains("Arange", e.Message);
    }

    [Fact]
    public void LinspaceValues()
    {
        var l = Np.Linspace(0, 1, 5);
        Assert.Equal(DType.Float32, l.DType);
        Assert.Equal(new[] { 0f, 0.25f, 0.5f, 0.75f, 1f }, l.ToArray<float>());
        Assert.Equal(new[] { 0.0, 0.2, 0.4, 0.6000000000000001, 0.8 }, Np.Linspace(0, 1, 5, endpoint: false, dtype: DType.Float64).ToArray<double>());
        Assert.Equal(new[] { 2.0 }, Np.Linspace(2, 3, 1, dtype: DType.Float64).ToArray<double>());
        Assert.Empty(Np.Linspace(0, 1, 0).ToArray<float>());
        Assert.Equal(new[] { 10f, 7.5f, 5f }, Np.Linspace(10, 5, 3).ToArray<float>());
        Assert.Throws<InvalidArgumentError>(() => Np.Linspace(0, 1, -1));
    }

    [Fact]
    public void EyeAndIdentity()
    {
        var e = Np.Eye(3);
        Assert.Equal(DType.Float32, e.DType);
        Assert.Equal(new float[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 }, e.ToArray<float>());
        var r = Np.Eye(2, 3, k: 1, dtype: DType.Int32);
        Assert.Equal(new Shape(2, 3), r.Shape);
        Assert.Equal(new[] { 0, 1, 0, 0, 0, 1 }, r.ToArray<int>());
        var l = Np.Eye(3, k: -1);
        Assert.Equal(new float[] { 0, 0, 0, 1, 0, 0, 0, 1, 0 }, l.ToArray<float>());
        Assert.Equal(new[] { true, false, false, true }, Np.Identity(2, DType.Bool).ToArray<bool>());
    }

    [Fact]
    public void ToArrayWithTheWrongElementTypeNamesBothTypes()
    {
        var x = Np.Array(new[] { 1, 2 });
        var e = Assert.Throws<DTypeError>(() => x.ToArray<float>());
        Assert.Contains("int32", e.Message);
        Assert.Contains("ToArray<Int32>", e.Message);
        Assert.Equal(new[] { 1f, 2f }, x.AsType(DType.Float32).ToArray<float>());
    }

    [Fact]
    public void ItemConvertsAndChecksTheSize()
    {
        Assert.Equal(2.5, Np.Array(new[] { 2.5f }).Item());
        Assert.Equal(2.5f, Np.Array(new[] { 2.5 }).Item<float>());
        Assert.Equal(3, Np.Array(new[] { 3.9f }).Item<int>());
        Assert.Equal(-3, Np.Array(new[] { -3.9 }).Item<int>());
        Assert.True(Np.Array(new[] { 0.5f }).Item<bool>());
        Assert.Equal(7L, Np.Array(new[] { 7 }).Item<long>());
        Assert.Equal((Half)1.5f, Np.Array(new[] { 1.5f }).Item<Half>());
        Assert.Equal(4f, (float)Np.Array(new[] { 4f }).Reshape(1, 1));
        var e = Assert.Throws<ShapeError>(() => Np.Array(new[] { 1f, 2f }).Item<float>());
        Assert.Contains("(2,)", e.Message);
        var o = Assert.Throws<DTypeError>(() => Np.Array(new[] { -1 }).Item<uint>());
        Assert.Contains("Item<UInt32>()", o.Message);
        Assert.Contains("-1", o.Message);
        Assert.Throws<DTypeError>(() => Np.Array(new[] { 1e10 }).Item<int>());
    }

    [Fact]
    public void ShapesOfRankZeroToEight()
    {
        for (int r = 0; r <= Shape.MaxRank; r++)
        {
            var dims = Enumerable.Range(0, r).Select(i => i % 3 + 1).ToArray();
            var t = Np.Ones(new Shape(dims));
            Assert.Equal(r, t.Rank);
            Assert.Equal(dims, t.Shape.ToArray());
            Assert.Equal(dims.Aggregate(1, (a, b) => a * b), t.Size);
            Assert.Equal((float)t.Size, t.Sum().Item<float>());
        }
    }

    [Fact]
    public void RankNineIsAShapeError()
    {
        var e = Assert.Throws<ShapeError>(() => new Shape(1, 1, 1, 1, 1, 1, 1, 1, 1));
        Assert.Contains("rank 9", e.Message);
        Assert.Contains("maximum rank 8", e.Message);
        Assert.Throws<ShapeError>(() => Np.Zeros([1, 1, 1, 1, 1, 1, 1, 1]).Reshape(1, 1, 1, 1, 1, 1, 1, 1, 1));
    }

    [Fact]
    public void NegativeDimensionIsAShapeError()
    {
        var e = Assert.Throws<ShapeError>(() => Np.Zeros([2, -1]));
        Assert.Contains("negative dimension", e.Message);
    }

    [Fact]
    public void ShapeTextAndEquality()
    {
        Assert.Equal("(2, 3)", new Shape(2, 3).ToString());
        Assert.Equal("(3,)", new Shape(3).ToString());
        Assert.Equal("()", Shape.Scalar.ToString());
        Assert.Equal("[2,3]", new Shape(2, 3).ToBracketString());
        Assert.Equal(new Shape(2, 3), (Shape)new[] { 2, 3 });
        Assert.Equal(new Shape(2, 3).GetHashCode(), new Shape(2, 3).GetHashCode());
        Assert.NotEqual(new Shape(3, 2), new Shape(2, 3));
        Assert.Equal(new[] { 12, 4, 1 }, new Shape(2, 3, 4).Strides());
        Assert.Equal(4, new Shape(2, 3, 4)[-1]);
        Assert.Equal("f32[3,4]", new Aval(new Shape(3, 4), DType.Float32).ToString());
    }

    [Fact]
    public void FromArrayWithAShape()
    {
        var t = Tensor.FromArray(new[] { 1, 2, 3, 4, 5, 6 }, new Shape(3, 2));
        Assert.Equal(new Shape(3, 2), t.Shape);
        Assert.Equal(4, t[1, 1].Item<int>());
        var e = Assert.Throws<ShapeError>(() => Tensor.FromArray(new[] { 1, 2, 3 }, new Shape(2, 2)));
        Assert.Contains("(2, 2)", e.Message);
        Assert.Contains("3 values", e.Message);
    }

    [Fact]
    public void DTypeFacts()
    {
        Assert.Equal("f32", DType.Float32.ShortName());
        Assert.Equal("bf16", DType.BFloat16.ShortName());
        Assert.Equal("uint32", DType.UInt32.Name());
        Assert.Equal(2, DType.Float16.ItemSize());
        Assert.Equal(8, DType.Int64.ItemSize());
        Assert.Equal(DType.Float16, DTypes.Parse("f16"));
        Assert.Equal(DType.Int64, DTypes.Of<long>());
        Assert.Throws<DTypeError>(() => DTypes.Parse("complex64"));
        Assert.Throws<DTypeError>(() => DTypes.FromClr(typeof(decimal)));
    }
}
