namespace Jx;

/// <summary>A device that holds tensors and runs kernels. The CPU exposes <c>JX_CPU_DEVICES</c> virtual devices
/// (default 1), like XLA's forced host device count, so that SPMD code can be tested without GPUs.</summary>
/// <example><code>foreach (var d in Jax.Devices()) Console.WriteLine(d); // cpu:0</code></example>
public sealed class Device : IEquatable<Device>
{
    /// <summary>"cpu" or "cuda".</summary>
    public string Platform { get; }
    public int Id { get; }

    internal Device(string platform, int id) { Platform = platform; Id = id; }

    public bool Equals(Device? other) => other is not null && other.Platform == Platform && other.Id == Id;
    public override bool Equals(object? obj) => obj is Device d && Equals(d);
    public override int GetHashCode() => HashCode.Combine(Platform, Id);
    public override string ToString() => $"{Platform}:{Id}";

    private static readonly Lazy<Device[]> CpuDevices = new(() => CpuDevicesFrom(Environment.GetEnvironmentVariable("JX_CPU_DEVICES")));

    /// <summary>The virtual CPU devices that a JX_CPU_DEVICES value asks for (unset or empty: one).</summary>
    internal static Device[] CpuDevicesFrom(string? env)
    {
        int n = 1;
        if (!string.IsNullOrEmpty(env) && (!int.TryParse(env, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out n) || n < 1 || n > 1024))
            throw new DeviceError($"JX_CPU_DEVICES='{env}' is not a device count between 1 and 1024; unset it or set e.g. JX_CPU_DEVICES=8");
        return Enumerable.Range(0, n).Select(i => new Device("cpu", i)).ToArray();
    }

    internal static IReadOnlyList<Device> Cpus => CpuDevices.Value;
    /// <summary>The device new tensors are created on.</summary>
    public static Device Default => CpuDevices.Value[0];
}
