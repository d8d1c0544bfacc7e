namespace Jx.Tests;

/// <summary>Devices: the virtual CPU devices (JX_CPU_DEVICES, default one), DevicePut, kernels that keep their
/// operands' device, and the error for combining tensors of different devices.</summary>
public class DeviceTests
{
    /// <summary>A tensor placed on an arbitrary (virtual) device, as DevicePut would place it when that device exists.</summary>
    private static Tensor On(Device d, float[] data, params int[] shape) => Tensor.Own((float[])data.Clone(), DType.Float32, new Shape(shape), d);

    private static readonly Device Cpu1 = new("cpu", 1);

    [Fact]
    public void DefaultIsOneCpuDeviceUnlessConfigured()
    {
        var env = Environment.GetEnvironmentVariable("JX_CPU_DEVICES");
        int expected = string.IsNullOrEmpty(env) ? 1 : int.Parse(env);
        var devices = Jax.Devices();
        Assert.Equal(expected, devices.Count);
        Assert.Equal("cpu:0", devices[0].ToString());
        Assert.Equal("cpu", devices[0].Platform);
        Assert.Equal(0, devices[0].Id);
        Assert.Equal(devices, Jax.Devices("cpu"));
        Assert.Equal(devices[0], Jax.DefaultDevice);
        Assert.Equal(Jax.DefaultDevice, Np.Zeros([2]).Device);
        Assert.Equal(Jax.DefaultDevice, (Np.Ones([2]) * 3).Device);
    }

    [Fact]
    public void CpuDeviceCountParsing()
    {
        Assert.Single(Device.CpuDevicesFrom(null));
        Assert.Single(Device.CpuDevicesFrom(""));
        var four = Device.CpuDevicesFrom("4");
        Assert.Equal(new[] { "cpu:0", "cpu:1", "cpu:2", "cpu:3" }, four.Select(d => d.ToString()));
        Assert.Equal(1024, Device.CpuDevicesFrom("1024").Length);
        foreach (var bad in new[] { "0", "-2", "abc", "1025", "2.5" })
        {
            var e = Assert.Throws<DeviceError>(() => Device.CpuDevicesFrom(bad));
            Assert.Contains($"JX_CPU_DEVICES='{bad}'", e.Message);
            Assert.Contains("between 1 and 1024", e.Message);
        }
    }

    [Fact]
    public void DeviceEquality()
    {
        Assert.Equal(new Device("cpu", 1), Cpu1);
        Assert.Equal(new Device("cpu", 1).GetHashCode(), Cpu1.GetHashCode());
        Assert.NotEqual(Jax.DefaultDevice, Cpu1);
        Assert.NotEqual(new Device("cuda", 1), Cpu1);
    }

    [Fact]
    public void UnknownPlatformIsADeviceError()
    {
        var e = Assert.Throws<DeviceError>(() => Jax.Devices("gpu"));
        Assert.Contains("'gpu'", e.Message);
        Assert.Contains("available: cpu", e.Message);
    }

    [Fact]
    public void DevicePutToTheSameDeviceIsANoOp()
    {
        var x = Np.Array(new[] { 1f, 2f });
        Assert.Same(x, Jax.DevicePut(x, Jax.DefaultDevice));
        var tree = (A: x, B: new[] { Np.Zeros([1]) });
        var moved = Jax.DevicePut(tree, Jax.DefaultDevice);
        Assert.Same(x, moved.A);
        Assert.Equal(Jax.DefaultDevice, moved.B[0].Device);
    }

    [Fact]
    public void DevicePutToAnUnknownDeviceIsADeviceError()
    {
        var e = Assert.Throws<DeviceError>(() => Jax.DevicePut(Np.Zeros([1]), new Device("cpu", 99)));
        Assert.Contains("unknown device cpu:99", e.Message);
        Assert.Contains("cpu:0", e.Message);
    }

    [Fact]
    public void MixingDevicesIsADeviceError()
    {
        var a = Np.Array(new[] { 1f, 2f });
        var b = On(Cpu1, [3f, 4f], 2);
        Assert.Equal(Cpu1, b.Device);
        var e = Assert.Throws<DeviceError>(() => Lax.Add(a, b));
        Assert.Contains("'add'", e.Message);
        Assert.Contains("cpu:0", e.Message);
        Assert.Contains("cpu:1", e.Message);
        Assert.Contains("DevicePut", e.Message);
        Assert.Throws<DeviceError>(() => a * b);
        Assert.Throws<DeviceError>(() => Np.Matmul(a, b));
    }

    [Fact]
    public void KernelsKeepTheirOperandsDevice()
    {
        var x = On(Cpu1, [1f, -2f, 3f, 0.5f], 2, 2);
        Assert.Equal(Cpu1, Lax.Sin(x).Device);
        Assert.Equal(Cpu1, Lax.Add(x, x).Device);
        Assert.Equal(Cpu1, Lax.Lt(x, x).Device);
        Assert.Equal(Cpu1, Lax.IsFinite(x).Device);
        Assert.Equal(Cpu1, Lax.ReduceSum(x, [0]).Device);
        Assert.Equal(Cpu1, Lax.ArgMax(x, 1).Device);
        Assert.Equal(Cpu1, Lax.Cumsum(x, 1).Device);
        Assert.Equal(Cpu1, Lax.Transpose(x, [1, 0]).Device);
        Assert.Equal(Cpu1, Lax.Reshape(x, [4]).Device);
        Assert.Equal(Cpu1, x[1].Device);
        Assert.Equal(Cpu1, Lax.ConvertElementType(x, DType.Float16).Device);
        Assert.Equal(Cpu1, Lax.ConvertElementType(x, DType.Int32).Device);
        Assert.Equal(Cpu1, Np.Matmul(x, x).Device);
        var xi = Lax.ConvertElementType(x, DType.Int32);
        Assert.Equal(Cpu1, Np.Matmul(xi, xi).Device);
        Assert.Equal(Cpu1, Lax.Concatenate([x, x], 0).Device);
        Assert.Equal(new[] { 1f, -2f, 3f, 0.5f }, x.ToArray<float>());
    }
}
