using System.Runtime.InteropServices;

namespace Jx;

/// <summary>A concrete tensor's storage on the CPU: a typed, row-major array that is never written after creation.
/// A buffer may be a <em>splat</em> — one value standing for every element (a broadcast scalar) — which kernels can
/// use without materializing; <see cref="Span{T}"/> materializes it on first request.</summary>
internal sealed class Buffer
{
    public readonly Device Device;
    public readonly DType DType;
    public readonly int Length;
    private Array? _data;
    private readonly object? _splat;

    public Buffer(Array data, DType dtype, Device device)
    {
        _data = data;
        DType = dtype;
        Length = data.Length;
        Device = device;
    }

    private Buffer(object splat, DType dtype, int length, Device device)
    {
        _splat = splat;
        DType = dtype;
        Length = length;
        Device = device;
    }

    public static Buffer Splat<T>(T value, int length, Device device) where T : struct =>
        new(value, DTypes.Of<T>(), length, device);

    /// <summary>The single value when this buffer is a splat (a broadcast scalar); false otherwise.</summary>
    public bool TryGetSplat<T>(out T value) where T : struct
    {
        if (_splat is T v) { value = v; return true; }
        if (_data is T[] arr && arr.Length == 1) { value = arr[0]; return true; }
        value = default;
        return false;
    }

    public bool IsSplat => _splat is not null;

    /// <summary>Set when the buffer was donated to a jitted call; using it afterwards raises an error.</summary>
    public string? DonatedTo { get; private set; }
    public void MarkDonated(string function) => DonatedTo = function;

    /// <summary>A new, not donated, buffer object over the same storage (for a jitted call's output that shares storage
    /// with an input the call invalidated).</summary>
    internal Buffer Alias() => _splat is not null ? new Buffer(_splat, DType, Length, Device) : new Buffer(_data!, DType, Device);

    public T[] Array<T>() where T : struct
    {
        if (_data is null)
        {
            var arr = GC.AllocateUninitializedArray<T>(Length);
            arr.AsSpan().Fill((T)_splat!);
            _data = arr;
        }
        return (T[])_data;
    }

    public ReadOnlySpan<T> Span<T>() where T : struct => Array<T>();

    /// <summary>The storage as raw bytes (for bitcasts and hashing).</summary>
    public ReadOnlySpan<byte> Bytes() => DType switch
    {
        DType.Bool => MemoryMarshal.AsBytes(Span<bool>()),
        DType.Int32 => MemoryMarshal.AsBytes(Span<int>()),
        DType.Int64 => MemoryMarshal.AsBytes(Span<long>()),
        DType.UInt32 => MemoryMarshal.AsBytes(Span<uint>()),
        DType.Float16 => MemoryMarshal.AsBytes(Span<Half>()),
        DType.BFloat16 => MemoryMarshal.AsBytes(Span<BFloat16>()),
        DType.Float32 => MemoryMarshal.AsBytes(Span<float>()),
        DType.Float64 => MemoryMarshal.AsBytes(Span<double>()),
        _ => throw new InvalidOperationException(),
    };

    public Array RawArray() => DType switch
    {
        DType.Bool => Array<bool>(),
        DType.Int32 => Array<int>(),
        DType.Int64 => Array<long>(),
        DType.UInt32 => Array<uint>(),
        DType.Float16 => Array<Half>(),
        DType.BFloat16 => Array<BFloat16>(),
        DType.Float32 => Array<float>(),
        DType.Float64 => Array<double>(),
        _ => throw new InvalidOperationException(),
    };

    /// <summary>Element i boxed as double (for printing and conversion; not a hot path).</summary>
    public double GetDouble(int i) => DType switch
    {
        DType.Bool => Get<bool>(i) ? 1 : 0,
        DType.Int32 => Get<int>(i),
        DType.Int64 => Get<long>(i),
        DType.UInt32 => Get<uint>(i),
        DType.Float16 => (double)Get<Half>(i),
        DType.BFloat16 => (double)Get<BFloat16>(i),
        DType.Float32 => Get<float>(i),
        DType.Float64 => Get<double>(i),
        _ => throw new InvalidOperationException(),
    };

    public T Get<T>(int i) where T : struct => _splat is T s ? s : ((T[])_data!)[i];
}
