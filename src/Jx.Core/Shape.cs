using System.Collections;
using System.Runtime.CompilerServices;

namespace Jx;

/// <summary>An immutable array shape (rank 0 to 8). Converts implicitly from <c>int[]</c> so shapes read as <c>[2, 3]</c>.</summary>
/// <example><code>Shape s = [2, 3]; Console.WriteLine(s); // (2, 3)  s.Size == 6</code></example>
[CollectionBuilder(typeof(Shape), nameof(Create))]
public sealed class Shape : IEquatable<Shape>, IReadOnlyList<int>
{
    public const int MaxRank = 8;
    private readonly int[] _dims;
    private readonly int _hash;

    public static readonly Shape Scalar = new([]);

    public Shape(params int[] dims) : this(dims, true) { }

    private Shape(int[] dims, bool copy)
    {
        if (dims.Length > MaxRank)
            throw new ShapeError($"rank {dims.Length} is above Jx's maximum rank {MaxRank} (shape ({string.Join(", ", dims)}))");
        long size = 1;
        foreach (var d in dims)
        {
            if (d < 0) throw new ShapeError($"negative dimension in shape ({string.Join(", ", dims)}); every dimension must be >= 0");
            size *= d;
            if (size > int.MaxValue) throw new ShapeError($"shape ({string.Join(", ", dims)}) has more than {int.MaxValue} elements");
        }
        _dims = copy ? (int[])dims.Clone() : dims;
        Size = (int)size;
        var h = new HashCode();
        foreach (var d in _dims) h.Add(d);
        _hash = h.ToHashCode();
    }

    /// <summary>For collection expressions: <c>Shape s = [2, 3];</c></summary>
    public static Shape Create(ReadOnlySpan<int> dims) => dims.Length == 0 ? Scalar : new Shape(dims.ToArray(), false);

    internal static Shape Own(int[] dims) => dims.Length == 0 ? Scalar : new Shape(dims, false);

    public static implicit operator Shape(int[] dims) => new(dims);

    public int Rank => _dims.Length;
    /// <summary>Number of elements (1 for a scalar).</summary>
    public int Size { get; }
    public int this[int i] => _dims[i < 0 ? i + _dims.Length : i];
    public int Count => _dims.Length;
    public int[] ToArray() => (int[])_dims.Clone();
    internal ReadOnlySpan<int> Dims => _dims;

    /// <summary>Row-major strides in elements.</summary>
    public int[] Strides()
    {
        var s = new int[Rank];
        int acc = 1;
        for (int i = Rank - 1; i >= 0; i--) { s[i] = acc; acc *= _dims[i]; }
        return s;
    }

    public bool Equals(Shape? other) => other is not null && (ReferenceEquals(this, other) || (_hash == other._hash && _dims.AsSpan().SequenceEqual(other._dims)));
    public override bool Equals(object? obj) => obj is Shape s && Equals(s);
    public override int GetHashCode() => _hash;
    public static bool operator ==(Shape? a, Shape? b) => a is null ? b is null : a.Equals(b);
    public static bool operator !=(Shape? a, Shape? b) => !(a == b);

    /// <summary>NumPy style: (2, 3), (3,), ().</summary>
    public override string ToString() => Rank == 1 ? $"({_dims[0]},)" : $"({string.Join(", ", _dims)})";
    /// <summary>JAX's jaxpr style: [2,3].</summary>
    public string ToBracketString() => $"[{string.Join(",", _dims)}]";

    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_dims).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _dims.GetEnumerator();
}

/// <summary>The abstract value of an array: shape, dtype and whether the dtype is weak (from a C# literal).
/// Tracers carry only this; abstract evaluation maps input avals to output avals.</summary>
public sealed record Aval(Shape Shape, DType DType, bool Weak = false)
{
    public int Rank => Shape.Rank;
    public int Size => Shape.Size;
    /// <summary>As JAX prints it in jaxprs: f32[3,4].</summary>
    public override string ToString() => DType.ShortName() + Shape.ToBracketString();
    public Aval WithShape(Shape s) => this with { Shape = s };
    public Aval WithDType(DType d) => this with { DType = d, Weak = false };
    public Aval Strong => Weak ? this with { Weak = false } : this;
}
