namespace Jx.Tests;

/// <summary>Tensor.ToString prints what <c>str(numpy_array)</c> (and so <c>str(jax_array)</c>) prints.</summary>
public class FormattingTests
{
    private static Tensor F(params float[] v) => Np.Array(v);
    private static Tensor D(params double[] v) => Np.Array(v);

    [Fact]
    public void FloatsAlignOnTheDecimalPoint()
    {
        Assert.Equal("[1.  2.5 3. ]", F(1f, 2.5f, 3f).ToString());
        Assert.Equal("[  0.5  100.25]", F(0.5f, 100.25f).ToString());
        Assert.Equal("[-1.5  2. ]", F(-1.5f, 2f).ToString());
        Assert.Equal("[0. 1. 2.]", F(0, 1, 2).ToString());
        Assert.Equal("[0.1 0.2]", F(0.1f, 0.2f).ToString());
    }

    [Fact]
    public void FloatsUseTheShortestDigitsOfTheirDType()
    {
        Assert.Equal("[0.33333334]", F(1f / 3).ToString());
        Assert.Equal("[0.1        0.25       0.33333333]", D(0.1, 0.25, 1.0 / 3).ToString());
        Assert.Equal("[0.1 1. ]", F(0.1f, 1f).AsType(DType.Float16).ToString());
        Assert.Equal("[0.1 2. ]", F(0.1f, 2f).AsType(DType.BFloat16).ToString());
    }

    [Fact]
    public void ScientificWhenTheMagnitudesCallForIt()
    {
        Assert.Equal("[1.e-05 1.e+00]", F(1e-5f, 1f).ToString());
        Assert.Equal("[1.e+08 1.e+00]", F(1e8f, 1f).ToString());
        // max/min above 1000
        Assert.Equal("[1.e-03 2.e+00]", F(0.001f, 2f).ToString());
        Assert.Equal("[1.50e-05 2.25e+00]", F(1.5e-5f, 2.25f).ToString());
        Assert.Equal("[ 1.e+100 -1.e+000]", D(1e100, -1).ToString());
        // max/min of exactly 1000 stays positional
        Assert.Equal("[   1. 1000.]", F(1, 1000).ToString());
    }

    [Fact]
    public void Integers()
    {
        Assert.Equal("[  1  20 300]", Np.Array(new[] { 1, 20, 300 }).ToString());
        Assert.Equal("[-5  3]", Np.Array(new[] { -5, 3 }).ToString());
        Assert.Equal("[1099511627776            -1]", Np.Array(new[] { 1L << 40, -1L }).ToString());
        Assert.Equal("[4000000000          0]", Np.Array(new uint[] { 4000000000u, 0 }).ToString());
    }

    [Fact]
    public void Bools()
    {
        Assert.Equal("[ True False  True]", Np.Array(new[] { true, false, true }).ToString());
        Assert.Equal("[ True  True]", Np.Array(new[] { true, true }).ToString());
        Assert.Equal("[[False]]", Np.Array(new[,] { { false } }).ToString());
    }

    [Fact]
    public void ScalarsPrintLikeNumPyScalars()
    {
        Assert.Equal("1.0", Tensor.Scalar(1f).ToString());
        Assert.Equal("2.5", Tensor.Scalar(2.5f).ToString());
        Assert.Equal("0.1", Tensor.Scalar(0.1f).ToString());
        Assert.Equal("0.3333333333333333", Tensor.Scalar(1.0 / 3).ToString());
        Assert.Equal("-3.0", Tensor.Scalar(-3.0).ToString());
        Assert.Equal("1e+20", Tensor.Scalar(1e20f).ToString());
        Assert.Equal("1.5e-05", Tensor.Scalar(1.5e-5).ToString());
        Assert.Equal("0.0", Tensor.Scalar(0f).ToString());
        Assert.Equal("nan", Tensor.Scalar(float.NaN).ToString());
        Assert.Equal("-inf", Tensor.Scalar(double.NegativeInfinity).ToString());
        Assert.Equal("3", Tensor.Scalar(3).ToString());
        Assert.Equal("-7", Tensor.Scalar(-7L).ToString());
        Assert.Equal("True", Tensor.Scalar(true).ToString());
        Assert.Equal("False", Tensor.Scalar(false).ToString());
        Assert.Equal("0.5", Tensor.Scalar((Half)0.5f).ToString());
    }

    [Fact]
    public void NanAndInf()
    {
        Assert.Equal("[  1.  nan -inf]", F(1f, float.NaN, float.NegativeInfinity).ToString());
        Assert.Equal("[nan inf]", F(float.NaN, float.PositiveInfinity).ToString());
        Assert.Equal("[ nan -inf]", F(float.NaN, float.NegativeInfinity).ToString());
        Assert.Equal("[1.5 nan]", D(1.5, double.NaN).ToString());
        Assert.Equal("[1.e-05    inf]", F(1e-5f, float.PositiveInfinity).ToString());
    }

    [Fact]
    public void TwoAndThreeDimensions()
    {
        Assert.Equal("[[1. 2.]\n [3. 4.]]", Np.Array(new float[,] { { 1, 2 }, { 3, 4 } }).ToString());
        Assert.Equal("[[[0 1]\n  [2 3]]\n\n [[4 5]\n  [6 7]]]", Np.Arange(8).Reshape(2, 2, 2).ToString());
        Assert.Equal("[[ 1 10]]", Np.Array(new[,] { { 1, 10 } }).ToString());
        Assert.Equal("[[1]\n [2]\n [3]]", Np.Array(new[] { 1, 2, 3 }).Reshape(3, 1).ToString());
    }

    [Fact]
    public void EmptyArrays()
    {
        Assert.Equal("[]", Np.Zeros([0]).ToString());
        Assert.Equal("[]", Np.Zeros([2, 0], DType.Int32).ToString());
    }

    [Fact]
    public void LongRowsWrapAtSeventyFiveCharacters()
    {
        Assert.Equal("[ 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23\n 24 25 26 27 28 29]",
            Np.Arange(30).ToString());
        Assert.Equal("[[ 0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15 16 17 18 19 20 21 22 23\n  24 25 26 27 28 29]\n" +
                     " [30 31 32 33 34 35 36 37 38 39 40 41 42 43 44 45 46 47 48 49 50 51 52 53\n  54 55 56 57 58 59]]",
            Np.Arange(60).Reshape(2, 30).ToString());
    }

    [Fact]
    public void SummarizesAboveAThousandElements()
    {
        Assert.Equal("[   0    1    2 ... 1997 1998 1999]", Np.Arange(2000).ToString());
        Assert.Equal("[   0.    1.    2. ...  998.  999. 1000.]", Np.Arange(1001).AsType(DType.Float32).ToString());
        Assert.Equal("[0.000e+00 1.000e+00 2.000e+00 ... 1.998e+03 1.999e+03 2.000e+03]", Np.Arange(2001).AsType(DType.Float32).ToString());
        var rows = string.Join("\n", Enumerable.Repeat(" [0. 0. 0. ... 0. 0. 0.]", 3));
        Assert.Equal("[" + rows[1..] + "\n ...\n" + rows + "]", Np.Zeros([100, 100]).ToString());
        // Exactly 1000 elements are printed in full.
        var full = Np.Arange(1000).ToString();
        Assert.DoesNotContain("...", full);
        Assert.Equal(1000, full.Split([' ', '\n', '[', ']'], StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public void SummarizedFormatUsesOnlyTheShownElements()
    {
        // The middle holds a wide value that is not printed, so it does not widen the columns (numpy formats the edge items only).
        var v = new int[1001];
        v[500] = 123456;
        v[1000] = 9;
        Assert.Equal("[0 0 0 ... 0 0 9]", Np.Array(v).ToString());
    }

    [Fact]
    public void SummarizesEveryLongAxis()
    {
        var s = Np.Arange(1100).Reshape(11, 10, 10).ToString();
        var lines = s.Split('\n');
        Assert.StartsWith("[[[   0    1    2 ...    7    8    9]", lines[0]);
        Assert.Equal("  [  10   11   12 ...   17   18   19]", lines[1]);
        Assert.Equal("  ...", lines[3]);
        Assert.EndsWith("[1090 1091 1092 ... 1097 1098 1099]]]", s);
        Assert.Contains("\n\n ...\n\n", s);
    }

    [Fact]
    public void TracersPrintTheirAval()
    {
        string? text = null;
        Jax.MakeJaxpr((Tensor x) => { text = x.ToString(); return x; })(Np.Zeros([3]));
        Assert.Equal("Traced<f32[3]> with make_jaxpr", text);
    }
}
