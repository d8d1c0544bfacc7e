using System.Runtime.CompilerServices;

namespace Jx.Tests;

/// <summary>Every kind of bad input raises a typed <see cref="JxException"/> whose message names the operation and the
/// shapes or dtypes involved, and whose <see cref="JxException.UserLocation"/> is the caller's file and line.</summary>
public class ErrorTests
{
    private static int Line([CallerLineNumber] int line = 0) => line;

    private static void AtThisLine<T>(T e, int line) where T : JxException
    {
        Assert.NotNull(e.UserLocation);
        Assert.EndsWith($"ErrorTests.cs:{line}", e.UserLocation);
        Assert.EndsWith("\n  at " + e.UserLocation, e.Message);
    }

    [Fact]
    public void IncompatibleShapes()
    {
        var (a, b) = (Np.Zeros([2, 3]), Np.Zeros([4]));
        var (line, e) = (Line(), Assert.Throws<ShapeError>(() => a + b));
        Assert.Contains("Np.Add", e.Message);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Contains("(4,)", e.Message);
        AtThisLine(e, line);
        Assert.IsAssignableFrom<JxException>(e);
    }

    [Fact]
    public void LaxRequiresEqualShapesAndDTypes()
    {
        var (line, e) = (Line(), Assert.Throws<ShapeError>(() => Lax.Add(Np.Zeros([2]), Np.Zeros([3]))));
        Assert.Contains("'add'", e.Message);
        Assert.Contains("(2,) and (3,)", e.Message);
        AtThisLine(e, line);
        var d = Assert.Throws<DTypeError>(() => Lax.Mul(Np.Zeros([2]), Np.Zeros([2], DType.Int32)));
        Assert.Contains("'mul'", d.Message);
        Assert.Contains("float32 and int32", d.Message);
    }

    [Fact]
    public void BadAxis()
    {
        var x = Np.Zeros([2, 3]);
        var (line, e) = (Line(), Assert.Throws<AxisError>(() => Np.Sum(x, [2])));
        Assert.Contains("Sum", e.Message);
        Assert.Contains("axis 2", e.Message);
        Assert.Contains("rank 2", e.Message);
        AtThisLine(e, line);
        var t = Assert.Throws<AxisError>(() => Np.Transpose(x, [0, 2]));
        Assert.Contains("Transpose", t.Message);
        var c = Assert.Throws<AxisError>(() => Np.Concatenate([x, x], -3));
        Assert.Contains("Concatenate", c.Message);
    }

    [Fact]
    public void LaxSinOnInt32IsADTypeError()
    {
        var x = Np.Array(new[] { 1, 2, 3 });
        var (line, e) = (Line(), Assert.Throws<DTypeError>(() => Lax.Sin(x)));
        Assert.Contains("'sin'", e.Message);
        Assert.Contains("floating-point", e.Message);
        Assert.Contains("int32", e.Message);
        Assert.Contains("(3,)", e.Message);
        AtThisLine(e, line);
    }

    [Fact]
    public void NpSinPromotesBoolAndIntToFloat32AsJnpDoes()
    {
        var b = Np.Sin(Np.Array(new[] { true, false }));
        Assert.Equal(DType.Float32, b.DType);
        Assert.Equal(new[] { MathF.Sin(1f), 0f }, b.ToArray<float>());
        Assert.Equal(DType.Float32, Np.Sin(Np.Array(new[] { 1, 2 })).DType);
    }

    [Fact]
    public void OtherDTypeErrors()
    {
        var e = Assert.Throws<DTypeError>(() => Lax.Neg(Np.Array(new[] { true })));
        Assert.Contains("'neg'", e.Message);
        Assert.Contains("bool", e.Message);
        Assert.Throws<DTypeError>(() => Lax.Not(Np.Zeros([2])));
        Assert.Throws<DTypeError>(() => Np.Power(Np.Array(new[] { 2 }), Np.Array(new[] { 3 })));
        Assert.Throws<DTypeError>(() => Lax.ConvertElementType(Np.Zeros([1]), DType.Int32).ToArray<float>());
    }

    [Fact]
    public void IndexOutOfRange()
    {
        var x = Np.Zeros([3, 4]);
        var (line, e) = (Line(), Assert.Throws<JxIndexError>(() => x[3]));
        Assert.Contains("index 3", e.Message);
        Assert.Contains("axis 0", e.Message);
        Assert.Contains("(3, 4)", e.Message);
        AtThisLine(e, line);
        Assert.Throws<JxIndexError>(() => x[0, ^5]);
        var t = Assert.Throws<JxIndexError>(() => x[0, 0, 0]);
        Assert.Contains("too many indices", t.Message);
    }

    [Fact]
    public void RaggedNestedArrays()
    {
        var (line, e) = (Line(), Assert.Throws<InvalidArgumentError>(() => Np.Array(new int[][] { [1, 2], [3] })));
        Assert.Contains("Np.Array", e.Message);
        Assert.Contains("data[1] has length 1, expected 2", e.Message);
        AtThisLine(e, line);
    }

    [Fact]
    public void NaNDomainsAreNotErrors()
    {
        Assert.True(float.IsNaN(Np.Log(Np.Array(new[] { -1f })).Item<float>()));
        Assert.True(double.IsNaN(Np.Sqrt(Tensor.Scalar(-4.0)).Item()));
        Assert.Equal(float.PositiveInfinity, (Np.Array(new[] { 1f }) / 0f).Item<float>());
        Assert.Equal(-1, Lax.Div(Np.Array(new[] { 1 }), Np.Array(new[] { 0 })).Item<int>());
    }

    [Fact]
    public void TracerConcretizationInAnIf()
    {
        int ifLine = 0;
        var f = Jax.MakeJaxpr((Tensor x) =>
        {
            ifLine = Line(); if (x > 0) return x;
            return -x;
        });
        var e = Assert.Throws<ConcretizationError>(() => f(Np.Ones([3])));
        Assert.Contains("bool[3]", e.Message); // the comparison x > 0
        Assert.Contains("if/while", e.Message);
        Assert.Contains("make_jaxpr", e.Message);
        Assert.Contains("Lax.Cond", e.Message);
        Assert.Contains("static argument", e.Message);
        AtThisLine(e, ifLine);
    }

    [Fact]
    public void TracerConcretizationByItemAndToArray()
    {
        var e = Assert.Throws<ConcretizationError>(() => Jax.MakeJaxpr((Tensor x) => Tensor.Scalar(x.Item<float>()))(Tensor.Scalar(1f)));
        Assert.Contains("Item()", e.Message);
        var a = Assert.Throws<ConcretizationError>(() => Jax.MakeJaxpr((Tensor x) => Np.Array(x.ToArray<float>()))(Np.Ones([2])));
        Assert.Contains("ToArray()", a.Message);
        Assert.Throws<ConcretizationError>(() => Jax.MakeJaxpr((Tensor x) => (float)x > 0 ? x : x)(Tensor.Scalar(1f)));
    }

    [Fact]
    public void EscapedTracer()
    {
        Tensor? leaked = null;
        Jax.MakeJaxpr((Tensor x) => { leaked = Np.Sin(x); return leaked; })(Np.Ones([2]));
        Assert.NotNull(leaked);
        Assert.False(leaked!.IsConcrete);
        var e = Assert.Throws<EscapedTracerError>(() => leaked + 1f);
        Assert.Contains("f32[2]", e.Message);
        Assert.Contains("make_jaxpr", e.Message);
        Assert.Contains("'add'", e.Message);
        var i = Assert.Throws<EscapedTracerError>(() => leaked.ToArray<float>());
        Assert.Contains("leaked", i.Message);
        // Inside a later, different trace it is still caught.
        var j = Assert.Throws<EscapedTracerError>(() => Jax.MakeJaxpr((Tensor y) => y + leaked)(Np.Ones([2])));
        Assert.Contains("make_jaxpr", j.Message);
    }

    [Fact]
    public void AmbiguousTruthValue()
    {
        var e = Assert.Throws<ShapeError>(() => { if (Np.Ones([2]) > 0) { } });
        Assert.Contains("ambiguous", e.Message);
        Assert.Contains("(2,)", e.Message);
        Assert.True(Tensor.Scalar(1f) > 0 ? true : false);
    }

    [Fact]
    public void InvalidArguments()
    {
        Assert.Throws<InvalidArgumentError>(() => Np.Arange(0, 1, 0));
        Assert.Throws<InvalidArgumentError>(() => Np.Repeat(Np.Zeros([2]), -2));
        Assert.Throws<InvalidArgumentError>(() => Lax.SelectN(Np.Array(new[] { 0 })));
        var e = Assert.Throws<InvalidArgumentError>(() => PrimitiveRegistry.Get("no_such_primitive"));
        Assert.Contains("no_such_primitive", e.Message);
    }

    [Fact]
    public void EveryErrorIsAJxException()
    {
        foreach (var t in new[] { typeof(ShapeError), typeof(DTypeError), typeof(AxisError), typeof(JxIndexError), typeof(ConcretizationError),
                     typeof(EscapedTracerError), typeof(TreeStructureError), typeof(DeviceError), typeof(InvalidArgumentError), typeof(FloatingPointError) })
            Assert.True(typeof(JxException).IsAssignableFrom(t), t.Name);
    }
}

/// <summary>JX_DEBUG_NANS is process-wide, so this runs apart from the tests that produce NaNs on purpose.</summary>
[CollectionDefinition("DebugNans", DisableParallelization = true)]
public class DebugNansCollection;

[Collection("DebugNans")]
public class DebugNansTests
{
    [Fact]
    public void DebugNansNamesThePrimitive()
    {
        bool saved = DebugNans.Enabled;
        DebugNans.Enabled = true;
        try
        {
            var e = Assert.Throws<FloatingPointError>(() => Lax.Log(Np.Array(new[] { 1f, -1f })));
            Assert.Contains("'log'", e.Message);
            Assert.Contains("f32[2]", e.Message);
            Assert.Contains("flat index 1", e.Message);
            Assert.Equal(0f, Lax.Log(Np.Array(new[] { 1f })).Item<float>());
        }
        finally { DebugNans.Enabled = saved; }
    }
}
