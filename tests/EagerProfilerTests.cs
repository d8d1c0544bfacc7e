namespace Jx.Tests;

public class EagerProfilerTests
{
    [Fact]
    public void ReportsEachPrimitiveWithItsOutputShapeAndCallCount()
    {
        var x = Np.Ones([37, 41]);
        EagerProfiler.Reset();
        EagerProfiler.Enabled = true;
        try
        {
            Np.Tanh(x);
            Np.Tanh(x);
        }
        finally { EagerProfiler.Enabled = false; }
        var report = EagerProfiler.Report();
        var line = report.Split('\n').Single(l => l.Contains("tanh -> f32[37,41]"));
        Assert.Contains(" 2 calls", line);
        Assert.StartsWith("eager kernels:", report);
    }
}
