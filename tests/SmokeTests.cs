namespace Jx.Tests;

public class SmokeTests
{
    [Fact]
    public void AddBroadcastsAndKeepsDType()
    {
        var x = Np.Array(new float[,] { { 1, 2 }, { 3, 4 } });
        var y = x * 2 + 1;
        Assert.Equal(DType.Float32, y.DType);
        Assert.Equal(new float[] { 3, 5, 7, 9 }, y.ToArray<float>());
        Assert.Equal(24f, (x * 2 + 1).Sum().Item<float>());
    }

    [Fact]
    public void MakeJaxprPrints()
    {
        var j = Jax.MakeJaxpr((Tensor x) => Np.Sin(x))(Np.Ones([3]));
        Assert.Equal("{ lambda ; a:f32[3]. let b:f32[3] = sin a in (b,) }", j.ToString());
    }
}
