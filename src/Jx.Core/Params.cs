using System.Collections;
using System.Globalization;
using System.Text;

namespace Jx;

/// <summary>The immutable parameters of an equation (axes, shapes, dtypes, sub-jaxprs), with structural equality
/// and hashing so that jaxprs can key compile caches. Arrays are stored as <see cref="IntList"/>.</summary>
public sealed class Params : IEquatable<Params>, IEnumerable<KeyValuePair<string, object?>>
{
    public static readonly Params Empty = new([]);
    private readonly KeyValuePair<string, object?>[] _items;
    private readonly int _hash;

    private Params(KeyValuePair<string, object?>[] items)
    {
        _items = items;
        var h = new HashCode();
        foreach (var kv in items) { h.Add(kv.Key); h.Add(kv.Value); }
        _hash = h.ToHashCode();
    }

    /// <summary>Builds params from name/value pairs; int arrays become <see cref="IntList"/>.</summary>
    public static Params Of(params (string Name, object? Value)[] items)
    {
        if (items.Length == 0) return Empty;
        return new Params(items.Select(i => new KeyValuePair<string, object?>(i.Name, Normalize(i.Value))).ToArray());
    }

    private static object? Normalize(object? v) => v switch
    {
        int[] a => new IntList(a),
        Shape s => new IntList(s.ToArray()),
        _ => v,
    };

    public object? this[string name]
    {
        get
        {
            foreach (var kv in _items) if (kv.Key == name) return kv.Value;
            throw new KeyNotFoundException($"primitive parameter '{name}' is missing");
        }
    }

    public bool Has(string name) => _items.Any(kv => kv.Key == name);
    public T Get<T>(string name) => (T)this[name]!;
    public int Int(string name) => (int)this[name]!;
    public bool Bool(string name) => (bool)this[name]!;
    public int[] Ints(string name) => ((IntList)this[name]!).ToArray();
    public DType DType(string name) => (DType)this[name]!;

    /// <summary>A copy with one parameter replaced or added.</summary>
    public Params With(string name, object? value)
    {
        var list = _items.Where(kv => kv.Key != name).ToList();
        list.Add(new(name, Normalize(value)));
        return new Params(list.ToArray());
    }

    public bool Equals(Params? other)
    {
        if (other is null || other._hash != _hash || other._items.Length != _items.Length) return false;
        for (int i = 0; i < _items.Length; i++)
            if (_items[i].Key != other._items[i].Key || !Equals(_items[i].Value, other._items[i].Value)) return false;
        return true;
    }
    public override bool Equals(object? obj) => obj is Params p && Equals(p);
    public override int GetHashCode() => _hash;
    public int Count => _items.Length;
    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => ((IEnumerable<KeyValuePair<string, object?>>)_items).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _items.GetEnumerator();

    /// <summary>JAX's style: [axes=(0,) dtype=float32].</summary>
    public override string ToString() => _items.Length == 0 ? "" : "[" + string.Join(" ", _items.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key}={Format(kv.Value)}")) + "]";

    internal static string Format(object? v) => v switch
    {
        null => "None",
        bool b => b ? "True" : "False",
        DType d => d.Name(),
        double d => d.ToString("R", CultureInfo.InvariantCulture),
        float f => f.ToString("R", CultureInfo.InvariantCulture),
        string s => s,
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "",
    };
}

/// <summary>An immutable list of ints with structural equality, used for axes, shapes and permutations in params.</summary>
public sealed class IntList : IEquatable<IntList>, IReadOnlyList<int>
{
    private readonly int[] _v;
    public IntList(params int[] v) => _v = (int[])v.Clone();
    public int this[int i] => _v[i];
    public int Count => _v.Length;
    public int[] ToArray() => (int[])_v.Clone();
    public bool Equals(IntList? o) => o is not null && _v.AsSpan().SequenceEqual(o._v);
    public override bool Equals(object? obj) => obj is IntList l && Equals(l);
    public override int GetHashCode() { var h = new HashCode(); foreach (var x in _v) h.Add(x); return h.ToHashCode(); }
    public override string ToString() => _v.Length == 1 ? $"({_v[0]},)" : $"({string.Join(", ", _v)})";
    public IEnumerator<int> GetEnumerator() => ((IEnumerable<int>)_v).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _v.GetEnumerator();
}

/// <summary>An immutable list of values with structural equality (for nested params such as padding configs).</summary>
public sealed class ParamList : IEquatable<ParamList>, IReadOnlyList<object?>
{
    private readonly object?[] _v;
    public ParamList(params object?[] v) => _v = (object?[])v.Clone();
    public object? this[int i] => _v[i];
    public int Count => _v.Length;
    public bool Equals(ParamList? o) => o is not null && o._v.Length == _v.Length && _v.Zip(o._v).All(p => Equals(p.First, p.Second));
    public override bool Equals(object? obj) => obj is ParamList l && Equals(l);
    public override int GetHashCode() { var h = new HashCode(); foreach (var x in _v) h.Add(x); return h.ToHashCode(); }
    public override string ToString()
    {
        var sb = new StringBuilder("(");
        sb.Append(string.Join(", ", _v.Select(Params.Format)));
        if (_v.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }
    public IEnumerator<object?> GetEnumerator() => ((IEnumerable<object?>)_v).GetEnumerator();
    IEnumerator IEnumerable.GetEnumerator() => _v.GetEnumerator();
}
