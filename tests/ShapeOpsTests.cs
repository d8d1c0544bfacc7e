namespace Jx.Tests;

/// <summary>Shape manipulation: reshape/transpose family, concatenate/stack/split, tile/repeat, triangles, outer and
/// einsum, take/take_along_axis, pad (negative and interior), iota, slices and dynamic slices with clamping.</summary>
public class ShapeOpsTests
{
    private static Tensor M23() => Np.Array(new[,] { { 1, 2, 3 }, { 4, 5, 6 } });

    [Fact]
    public void ReshapeWithInference()
    {
        var x = Np.Arange(6);
        Assert.Equal(new Shape(2, 3), x.Reshape(2, -1).Shape);
        Assert.Equal(new Shape(3, 2), x.Reshape(-1, 2).Shape);
        Assert.Equal(new[] { 0, 1, 2, 3, 4, 5 }, x.Reshape(3, 2).ToArray<int>());
        Assert.Equal(new Shape(6), M23().Ravel().Shape);
        var e = Assert.Throws<ShapeError>(() => x.Reshape(4, -1));
        Assert.Contains("(6,)", e.Message);
        Assert.Throws<ShapeError>(() => x.Reshape(-1, -1));
        var r = Assert.Throws<ShapeError>(() => x.Reshape(4));
        Assert.Contains("cannot reshape array of shape (6,) (size 6) into shape (4,) (size 4)", r.Message);
    }

    [Fact]
    public void TransposeSwapMoveSqueezeExpand()
    {
        var m = M23();
        Assert.Equal(new[] { 1, 4, 2, 5, 3, 6 }, m.T.ToArray<int>());
        Assert.Equal(new Shape(3, 2), m.T.Shape);
        var x = Np.Arange(24).Reshape(2, 3, 4);
        Assert.Equal(new Shape(4, 2, 3), x.Transpose(2, 0, 1).Shape);
        Assert.Equal(13, x.Transpose(2, 0, 1)[1, 1, 0].Item<int>()); // x[1, 0, 1]
        Assert.Equal(new Shape(4, 3, 2), x.T.Shape);
        Assert.Equal(new Shape(2, 4, 3), x.MT.Shape);
        Assert.Equal(new Shape(4, 3, 2), Np.SwapAxes(x, 0, -1).Shape);
        Assert.Equal(new Shape(3, 4, 2), Np.MoveAxis(x, 0, -1).Shape);
        Assert.Equal(x[1, 2, 3].Item<int>(), Np.MoveAxis(x, 0, -1)[2, 3, 1].Item<int>());
        Assert.Equal(new Shape(2, 1, 3), m.ExpandDims(1).Shape);
        Assert.Equal(new Shape(2, 3, 1), m.ExpandDims(-1).Shape);
        Assert.Equal(new Shape(2, 3), m.ExpandDims(0).Squeeze().Shape);
        Assert.Equal(new Shape(1, 3), Np.Zeros([1, 1, 3]).Squeeze(0).Shape);
        var e = Assert.Throws<ShapeError>(() => m.Squeeze(0));
        Assert.Contains("(2, 3)", e.Message);
        Assert.Throws<AxisError>(() => m.Transpose(0, 0));
        Assert.Throws<AxisError>(() => Lax.Transpose(m, [0]));
    }

    [Fact]
    public void Flip()
    {
        var m = M23();
        Assert.Equal(new[] { 6, 5, 4, 3, 2, 1 }, Np.Flip(m).ToArray<int>());
        Assert.Equal(new[] { 3, 2, 1, 6, 5, 4 }, Np.Flip(m, [1]).ToArray<int>());
        Assert.Equal(new[] { 4, 5, 6, 1, 2, 3 }, Np.Flip(m, [-2]).ToArray<int>());
    }

    [Fact]
    public void Concatenate()
    {
        var a = Np.Array(new[,] { { 1, 2 }, { 3, 4 } });
        var b = Np.Array(new[,] { { 5, 6 } });
        var c0 = Np.Concatenate([a, b]);
        Assert.Equal(new Shape(3, 2), c0.Shape);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, c0.ToArray<int>());
        var c1 = Np.Concatenate([a, Np.Array(new[,] { { 5 }, { 6 } })], axis: -1);
        Assert.Equal(new[] { 1, 2, 5, 3, 4, 6 }, c1.ToArray<int>());
        // dtypes promote
        var p = Np.Concatenate([Np.Array(new[] { 1 }), Np.Array(new[] { 2.5f })]);
        Assert.Equal(DType.Float32, p.DType);
        Assert.Equal(new[] { 1f, 2.5f }, p.ToArray<float>());
        Assert.Equal(new[] { 1, 2 }, Np.Concatenate([Np.Array(new[] { 1, 2 }), Np.Zeros([0], DType.Int32)]).ToArray<int>());
        var e = Assert.Throws<ShapeError>(() => Np.Concatenate([a, Np.Zeros([1, 3], DType.Int32)]));
        Assert.Contains("(2, 2)", e.Message);
        Assert.Contains("(1, 3)", e.Message);
        Assert.Throws<AxisError>(() => Np.Concatenate([a, a], 2));
        Assert.Throws<InvalidArgumentError>(() => Np.Concatenate([]));
    }

    [Fact]
    public void StackAndFriends()
    {
        var a = Np.Array(new[] { 1, 2, 3 });
        var b = Np.Array(new[] { 4, 5, 6 });
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, Np.Stack([a, b]).ToArray<int>());
        Assert.Equal(new Shape(2, 3), Np.Stack([a, b]).Shape);
        Assert.Equal(new[] { 1, 4, 2, 5, 3, 6 }, Np.Stack([a, b], 1).ToArray<int>());
        Assert.Equal(new Shape(3, 2), Np.Stack([a, b], -1).Shape);
        Assert.Equal(new Shape(2, 3), Np.VStack([a, b]).Shape);
        Assert.Equal(new[] { 1, 2, 3, 4, 5, 6 }, Np.HStack([a, b]).ToArray<int>());
        var e = Assert.Throws<ShapeError>(() => Np.Stack([a, Np.Array(new[] { 1, 2 })]));
        Assert.Contains("(3,)", e.Message);
        Assert.Contains("(2,)", e.Message);
    }

    [Fact]
    public void Split()
    {
        var x = Np.Arange(6);
        var parts = Np.Split(x, 3);
        Assert.Equal(3, parts.Length);
        Assert.Equal(new[] { 2, 3 }, parts[1].ToArray<int>());
        var at = Np.Split(x, [1, 4]);
        Assert.Equal(new[] { 0 }, at[0].ToArray<int>());
        Assert.Equal(new[] { 1, 2, 3 }, at[1].ToArray<int>());
        Assert.Equal(new[] { 4, 5 }, at[2].ToArray<int>());
        var neg = Np.Split(x, [-2]);
        Assert.Equal(new[] { 0, 1, 2, 3 }, neg[0].ToArray<int>());
        var cols = Np.Split(M23(), 3, axis: 1);
        Assert.Equal(new[] { 2, 5 }, cols[1].ToArray<int>());
        Assert.Equal(new Shape(2, 1), cols[1].Shape);
        var e = Assert.Throws<ShapeError>(() => Np.Split(x, 4));
        Assert.Contains("equal division", e.Message);
        // indices past the end give empty parts, as numpy
        var past = Np.Split(x, [3, 10]);
        Assert.Equal(3, past.Length);
        Assert.Equal(new Shape(3), past[1].Shape);
        Assert.Equal(new Shape(0), past[2].Shape);
    }

    [Fact]
    public void Tile()
    {
        var a = Np.Array(new[] { 1, 2 });
        Assert.Equal(new[] { 1, 2, 1, 2, 1, 2 }, Np.Tile(a, 3).ToArray<int>());
        var t = Np.Tile(a, 2, 2);
        Assert.Equal(new Shape(2, 4), t.Shape);
        Assert.Equal(new[] { 1, 2, 1, 2, 1, 2, 1, 2 }, t.ToArray<int>());
        var m = Np.Array(new[,] { { 1, 2 }, { 3, 4 } });
        Assert.Equal(new[] { 1, 2, 3, 4, 1, 2, 3, 4 }, Np.Tile(m, 2, 1).ToArray<int>());
        Assert.Equal(new[] { 1, 2, 1, 2, 3, 4, 3, 4 }, Np.Tile(m, 2).ToArray<int>());
        Assert.Equal(new Shape(2, 4), Np.Tile(m, 2).Shape);
    }

    [Fact]
    public void Repeat()
    {
        Assert.Equal(new[] { 1, 1, 2, 2, 3, 3 }, Np.Repeat(Np.Array(new[] { 1, 2, 3 }), 2).ToArray<int>());
        var m = Np.Array(new[,] { { 1, 2 }, { 3, 4 } });
        Assert.Equal(new[] { 1, 1, 2, 2, 3, 3, 4, 4 }, Np.Repeat(m, 2).ToArray<int>());
        Assert.Equal(new[] { 1, 2, 1, 2, 3, 4, 3, 4 }, Np.Repeat(m, 2, axis: 0).ToArray<int>());
        Assert.Equal(new Shape(4, 2), Np.Repeat(m, 2, axis: 0).Shape);
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4 }, Np.Repeat(m, 3, axis: -1).ToArray<int>());
        Assert.Equal(new Shape(2, 0), Np.Repeat(m, 0, axis: 1).Shape);
        Assert.Throws<InvalidArgumentError>(() => Np.Repeat(m, -1));
    }

    [Fact]
    public void TriuAndTril()
    {
        var o = Np.Ones([3, 3], DType.Int32);
        Assert.Equal(new[] { 1, 1, 1, 0, 1, 1, 0, 0, 1 }, Np.Triu(o).ToArray<int>());
        Assert.Equal(new[] { 0, 1, 1, 0, 0, 1, 0, 0, 0 }, Np.Triu(o, 1).ToArray<int>());
        Assert.Equal(new[] { 1, 1, 1, 1, 1, 1, 0, 1, 1 }, Np.Triu(o, -1).ToArray<int>());
        Assert.Equal(new[] { 1, 0, 0, 1, 1, 0, 1, 1, 1 }, Np.Tril(o).ToArray<int>());
        Assert.Equal(new[] { 0, 0, 0, 1, 0, 0, 1, 1, 0 }, Np.Tril(o, -1).ToArray<int>());
        var m = Np.Arange(1, 7).Reshape(2, 3).AsType(DType.Float32);
        Assert.Equal(new[] { 1f, 2f, 3f, 0f, 5f, 6f }, Np.Triu(m).ToArray<float>());
        // batched: the last two axes
        var b = Np.Ones([2, 2, 2]);
        Assert.Equal(new[] { 1f, 0f, 1f, 1f, 1f, 0f, 1f, 1f }, Np.Tril(b).ToArray<float>());
        Assert.Throws<ShapeError>(() => Np.Triu(Np.Ones([3])));
    }

    [Fact]
    public void Outer()
    {
        var o = Np.Outer(Np.Array(new[] { 1, 2, 3 }), Np.Array(new[] { 10, 20 }));
        Assert.Equal(new Shape(3, 2), o.Shape);
        Assert.Equal(new[] { 10, 20, 20, 40, 30, 60 }, o.ToArray<int>());
        Assert.Equal(new Shape(4, 2), Np.Outer(Np.Ones([2, 2]), Np.Ones([2])).Shape); // flattened
    }

    [Fact]
    public void EinsumForms()
    {
        var a = Np.Array(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        var b = Np.Array(new float[,] { { 1, 0 }, { 0, 1 }, { 2, 3 } });
        Assert.Equal(Np.Matmul(a, b).ToArray<float>(), Np.Einsum("ij,jk->ik", a, b).ToArray<float>());
        Assert.Equal(new float[] { 7, 11, 16, 23 }, Np.Einsum("ij,jk", a, b).ToArray<float>()); // implicit output
        Assert.Equal(new[] { 1f, 4f, 2f, 5f, 3f, 6f }, Np.Einsum("ij->ji", a).ToArray<float>());
        Assert.Equal(21f, Np.Einsum("ij->", a).Item<float>());
        Assert.Equal(new[] { 5f, 7f, 9f }, Np.Einsum("ij->j", a).ToArray<float>());
        var v = Np.Array(new[] { 1f, 2f, 3f });
        Assert.Equal(14f, Np.Einsum("i,i->", v, v).Item<float>());
        Assert.Equal(Shape.Scalar, Np.Einsum("i,i->", v, v).Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, 2f, 4f, 6f, 3f, 6f, 9f }, Np.Einsum("i,j->ij", v, v).ToArray<float>());
        Assert.Equal(new[] { 14f, 32f }, Np.Einsum("ij,j->i", a, v).ToArray<float>());
        // batched matmul
        var x = Np.Arange(12).Reshape(2, 2, 3).AsType(DType.Float32);
        var y = Np.Arange(12).Reshape(2, 3, 2).AsType(DType.Float32);
        var bm = Np.Einsum("bij,bjk->bik", x, y);
        Assert.Equal(new Shape(2, 2, 2), bm.Shape);
        Assert.Equal(Np.Matmul(x, y).ToArray<float>(), bm.ToArray<float>());
        Assert.Equal(new float[] { 10, 13, 28, 40, 172, 193, 244, 274 }, bm.ToArray<float>());
        // three operands
        Assert.Equal(Np.Matmul(Np.Matmul(a, b), Np.Eye(2)).ToArray<float>(), Np.Einsum("ij,jk,kl->il", a, b, Np.Eye(2)).ToArray<float>());
        var e = Assert.Throws<ShapeError>(() => Np.Einsum("ij,jk->ik", a, a));
        Assert.Contains("'j'", e.Message);
        Assert.Throws<ShapeError>(() => Np.Einsum("ijk->", a));
        Assert.Throws<InvalidArgumentError>(() => Np.Einsum("ij->", a, a));
    }

    [Fact]
    public void Take()
    {
        var m = Np.Array(new[,] { { 1f, 2f, 3f }, { 4f, 5f, 6f } });
        Assert.Equal(new[] { 3f, 1f, 6f }, Np.Take(m, Np.Array(new[] { 2, 0, 5 })).ToArray<float>()); // flattened
        var cols = Np.Take(m, Np.Array(new[] { 2, 0 }), axis: 1);
        Assert.Equal(new Shape(2, 2), cols.Shape);
        Assert.Equal(new[] { 3f, 1f, 6f, 4f }, cols.ToArray<float>());
        Assert.Equal(new[] { 4f, 5f, 6f }, Np.Take(m, Np.Array(new[] { -1 }), axis: 0).ToArray<float>());
        var idx2 = Np.Take(m, Np.Array(new[,] { { 0, 1 }, { 1, 0 } }), axis: 0);
        Assert.Equal(new Shape(2, 2, 3), idx2.Shape);
        Assert.Equal(new[] { 1f, 2f, 3f, 4f, 5f, 6f, 4f, 5f, 6f, 1f, 2f, 3f }, idx2.ToArray<float>());
        // out of range: NaN for floats and the minimum for ints (jnp.take's default fill mode)
        var oob = Np.Take(m, Np.Array(new[] { 7 })).ToArray<float>();
        Assert.True(float.IsNaN(oob[0]));
        Assert.Equal(new[] { 20, int.MinValue }, Np.Take(Np.Array(new[] { 10, 20 }), Np.Array(new[] { 1, 2 })).ToArray<int>());
        Assert.Throws<DTypeError>(() => Np.Take(m, Np.Array(new[] { 1f })));
    }

    [Fact]
    public void TakeAlongAxis()
    {
        var x = Np.Array(new[,] { { 10, 30, 20 }, { 60, 40, 50 } });
        Assert.Equal(new[] { 10, 40 }, Np.TakeAlongAxis(x, Np.Array(new[,] { { 0 }, { 1 } }), 1).ToArray<int>());
        var order = Np.Argsort(x, 1);
        Assert.Equal(new[] { 10, 20, 30, 40, 50, 60 }, Np.TakeAlongAxis(x, order, 1).ToArray<int>());
        Assert.Equal(new[] { 60, 30, 50 }, Np.TakeAlongAxis(x, Np.Array(new[,] { { 1, 0, 1 } }), 0).ToArray<int>());
        Assert.Equal(new[] { 20, 50 }, Np.TakeAlongAxis(x, Np.Array(new[,] { { -1 }, { -1 } }), -1).ToArray<int>());
        var e = Assert.Throws<ShapeError>(() => Np.TakeAlongAxis(x, Np.Array(new[] { 0 }), 1));
        Assert.Contains("rank", e.Message);
    }

    [Fact]
    public void PadWithConstants()
    {
        var x = Np.Array(new[] { 1, 2, 3 });
        Assert.Equal(new[] { 0, 1, 2, 3, 0, 0 }, Np.Pad(x, [(1, 2)]).ToArray<int>());
        Assert.Equal(new[] { 9, 1, 2, 3 }, Np.Pad(x, [(1, 0)], 9).ToArray<int>());
        var m = Np.Pad(Np.Array(new[,] { { 1, 2 } }), [(1, 1)]);
        Assert.Equal(new Shape(3, 4), m.Shape);
        Assert.Equal(new[] { 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0 }, m.ToArray<int>());
        Assert.Throws<InvalidArgumentError>(() => Np.Pad(x, [(-1, 0)]));
    }

    [Fact]
    public void LaxPadNegativeAndInterior()
    {
        var x = Np.Array(new[] { 1f, 2f, 3f, 4f });
        var p = Tensor.Scalar(-1f);
        Assert.Equal(new[] { 2f, 3f, 4f, -1f, -1f }, Lax.Pad(x, p, [(-1, 2, 0)]).ToArray<float>());
        Assert.Equal(new[] { 1f, -1f, 2f, -1f, 3f, -1f, 4f }, Lax.Pad(x, p, [(0, 0, 1)]).ToArray<float>());
        Assert.Equal(new[] { -1f, 1f, -1f, 2f, -1f, 3f }, Lax.Pad(x, p, [(1, -2, 1)]).ToArray<float>());
        Assert.Equal(new[] { 3f }, Lax.Pad(x, p, [(-2, -1, 0)]).ToArray<float>());
        Assert.Equal(new[] { -1f, -1f, 1f, -1f, -1f }, Lax.Pad(x, p, [(2, -7, 2)]).ToArray<float>());
        var m = Lax.Pad(Np.Array(new[,] { { 1, 2 }, { 3, 4 } }), Tensor.Scalar(0), [(1, 0, 0), (0, -1, 1)]);
        Assert.Equal(new Shape(3, 2), m.Shape);
        Assert.Equal(new[] { 0, 0, 1, 0, 3, 0 }, m.ToArray<int>());
        var e = Assert.Throws<ShapeError>(() => Lax.Pad(x, p, [(-3, -3, 0)]));
        Assert.Contains("negative size", e.Message);
        Assert.Throws<InvalidArgumentError>(() => Lax.Pad(x, p, [(0, 0, -1)]));
        Assert.Throws<DTypeError>(() => Lax.Pad(x, Tensor.Scalar(0), [(1, 1, 0)]));
    }

    [Fact]
    public void Iota()
    {
        Assert.Equal(new[] { 0, 1, 2, 3 }, Lax.Iota(DType.Int32, 4).ToArray<int>());
        Assert.Equal(new[] { 0f, 0f, 0f, 1f, 1f, 1f }, Lax.BroadcastedIota(DType.Float32, [2, 3], 0).ToArray<float>());
        Assert.Equal(new[] { 0L, 1, 2, 0, 1, 2 }, Lax.BroadcastedIota(DType.Int64, [2, 3], 1).ToArray<long>());
        Assert.Equal(new uint[] { 0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2 }, Lax.BroadcastedIota(DType.UInt32, [2, 3, 2], 1).ToArray<uint>());
        Assert.Equal(new[] { 0.0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1 }, Lax.BroadcastedIota(DType.Float64, [2, 3, 2], 0).ToArray<double>());
        Assert.Equal(new[] { (Half)0, (Half)1, (Half)2 }, Lax.Iota(DType.Float16, 3).ToArray<Half>());
        Assert.Equal(new[] { 0, 1, 2, 3, 4 }, Lax.Iota(DType.BFloat16, 5).AsType(DType.Int32).ToArray<int>());
        Assert.Throws<DTypeError>(() => Lax.Iota(DType.Bool, 2));
        Assert.Throws<AxisError>(() => Lax.BroadcastedIota(DType.Int32, [2], 1));
    }

    [Fact]
    public void StaticSlices()
    {
        var x = Np.Arange(10);
        Assert.Equal(new[] { 2, 3, 4 }, Lax.Slice(x, [2], [5]).ToArray<int>());
        Assert.Equal(new[] { 1, 4, 7 }, Lax.Slice(x, [1], [9], [3]).ToArray<int>());
        Assert.Equal(new[] { 3, 5 }, Lax.SliceInDim(x, 3, 7, 2).ToArray<int>());
        var e = Assert.Throws<JxIndexError>(() => Lax.Slice(x, [2], [11]));
        Assert.Contains("(10,)", e.Message);
        Assert.Equal(new[] { 9, 7, 5 }, x[TensorIndex.Slice(null, 4, -2)].ToArray<int>());
        Assert.Equal(new[] { 7, 8, 9 }, x[^3..].ToArray<int>());
        Assert.Equal(new[] { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 }, Lax.Rev(x, [0]).ToArray<int>());
    }

    [Fact]
    public void DynamicSliceClampsTheStart()
    {
        var x = Np.Arange(5);
        Assert.Equal(new[] { 1, 2, 3 }, Lax.DynamicSlice(x, [Tensor.Scalar(1)], [3]).ToArray<int>());
        Assert.Equal(new[] { 2, 3, 4 }, Lax.DynamicSlice(x, [Tensor.Scalar(4)], [3]).ToArray<int>());
        Assert.Equal(new[] { 2, 3, 4 }, Lax.DynamicSlice(x, [Tensor.Scalar(100)], [3]).ToArray<int>());
        // negative starts count from the end (lax.dynamic_slice's allow_negative_indices=True), then clamp
        Assert.Equal(new[] { 3, 4 }, Lax.DynamicSlice(x, [Tensor.Scalar(-2)], [2]).ToArray<int>());
        Assert.Equal(new[] { 1, 2, 3 }, Lax.DynamicSlice(x, [Tensor.Scalar(-4)], [3]).ToArray<int>());
        Assert.Equal(new[] { 0, 1, 2 }, Lax.DynamicSlice(x, [Tensor.Scalar(-10)], [3]).ToArray<int>());
        Assert.Equal(new[] { 3, 4 }, Lax.DynamicSlice(x, [Tensor.Scalar(-2L)], [2]).ToArray<int>());
        // the example of the lax.dynamic_slice documentation
        var m = Np.Arange(12).Reshape(3, 4);
        Assert.Equal(new[] { 5, 6, 7, 9, 10, 11 }, Lax.DynamicSlice(m, [Tensor.Scalar(1), Tensor.Scalar(1)], [2, 3]).ToArray<int>());
        Assert.Equal(new[] { 5, 6, 7, 9, 10, 11 }, Lax.DynamicSlice(m, [Tensor.Scalar(2), Tensor.Scalar(2)], [2, 3]).ToArray<int>());
        Assert.Throws<JxIndexError>(() => Lax.DynamicSlice(x, [Tensor.Scalar(0)], [6]));
        Assert.Throws<DTypeError>(() => Lax.DynamicSlice(x, [Tensor.Scalar(0f)], [2]));
        Assert.Throws<ShapeError>(() => Lax.DynamicSlice(m, [Tensor.Scalar(0)], [2, 2]));
    }

    [Fact]
    public void DynamicSliceWithTracedNegativeIndex()
    {
        var j = Jax.MakeJaxpr((Tensor x, Tensor i) => Lax.DynamicSlice(x, [i], [2]))(Np.Arange(5), Tensor.Scalar(0));
        Assert.Equal(new[] { 3, 4 }, j.Call(Np.Arange(5), Tensor.Scalar(-2))[0].ToArray<int>());
        Assert.Equal(new[] { 1, 2 }, j.Call(Np.Arange(5), Tensor.Scalar(1))[0].ToArray<int>());
        Assert.Equal(new[] { 0, 1 }, j.Call(Np.Arange(5), Tensor.Scalar(-9))[0].ToArray<int>());
    }

    [Fact]
    public void DynamicUpdateSliceClampsTheStart()
    {
        var z = Np.Zeros([6]);
        var o = Np.Ones([3]);
        Assert.Equal(new[] { 0f, 0f, 1f, 1f, 1f, 0f }, Lax.DynamicUpdateSlice(z, o, [Tensor.Scalar(2)]).ToArray<float>());
        Assert.Equal(new[] { 0f, 0f, 0f, 1f, 1f, 1f }, Lax.DynamicUpdateSlice(z, o, [Tensor.Scalar(5)]).ToArray<float>());
        Assert.Equal(new[] { 0f, 1f, 1f, 1f, 0f, 0f }, Lax.DynamicUpdateSlice(z, o, [Tensor.Scalar(-5)]).ToArray<float>());
        var m = Lax.DynamicUpdateSlice(Np.Zeros([3, 3], DType.Int32), Np.Array(new[,] { { 7, 8 } }), [Tensor.Scalar(1), Tensor.Scalar(2)]);
        Assert.Equal(new[] { 0, 0, 0, 0, 7, 8, 0, 0, 0 }, m.ToArray<int>());
        Assert.Throws<DTypeError>(() => Lax.DynamicUpdateSlice(z, Np.Ones([3], DType.Int32), [Tensor.Scalar(0)]));
        Assert.Throws<ShapeError>(() => Lax.DynamicUpdateSlice(z, Np.Ones([7]), [Tensor.Scalar(0)]));
    }

    [Fact]
    public void ConcreteTensorsShareStorageForReshapes()
    {
        // reshape / squeeze / expand_dims move no data: the result reads the same buffer.
        var x = Np.Arange(6);
        var r = Lax.Reshape(x, [2, 3]);
        Assert.Same(x.Buffer, r.Buffer);
        Assert.Same(x.Buffer, Lax.ExpandDims(r, [0]).Buffer);
    }
}
