using System.Collections;
using System.Runtime.CompilerServices;

namespace Jx;

/// <summary>Implemented by user records marked <see cref="PytreeAttribute"/> (the Jx source generator writes it):
/// the record's tensor-bearing properties are its children, properties marked <see cref="StaticAttribute"/> are
/// auxiliary data that is part of the tree's structure.</summary>
public interface IPytreeNode
{
    /// <summary>The child subtrees, in declaration order.</summary>
    object?[] FlattenChildren();
    /// <summary>The static (non-differentiable) fields, compared when checking structures.</summary>
    object?[] AuxData();
    /// <summary>A new node like this one with the given children.</summary>
    IPytreeNode UnflattenChildren(object?[] children);
    /// <summary>The names of the children, for error messages and printing.</summary>
    string[] ChildNames();
}

/// <summary>Marks a partial record (record class or record struct), class or struct as a pytree; the Jx source generator
/// (Jx.PytreeGenerator) implements <see cref="IPytreeNode"/> for it. The children are the positional record parameters
/// and the public settable or init properties (and public non-readonly fields), in declaration order with inherited
/// members first; members marked <see cref="StaticAttribute"/> are static data instead. Unflattening copies the value
/// with a <c>with</c> expression (records and structs) or <c>MemberwiseClone</c> and setters (classes).
/// Compile-time diagnostics JX0001-JX0006 report a type that is not partial, a child whose type can never be a pytree
/// (a string: mark it [Static]), a child that cannot be set on a copy, and a data member that is neither.</summary>
/// <example><code>
/// [Pytree] public partial record Params(Tensor W, Tensor B);
/// [Pytree] public partial record Dense(Tensor W, Tensor B, [Static] string Activation);
/// var g = Tree.Map(t => t * 0, new Params(Np.Ones([2, 2]), Np.Zeros([2])));   // a Params
/// </code></example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct)]
public sealed class PytreeAttribute : Attribute;

/// <summary>Marks a member of a [Pytree] type (a property, a field, or a positional record parameter) as static
/// auxiliary data rather than a child: it is not a leaf, transforms do not trace it, and it is part of the tree's
/// structure (two trees whose static values differ have different <see cref="TreeDef"/>s).</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed class StaticAttribute : Attribute;

/// <summary>The structure of a pytree without its leaves: what <see cref="Tree.Flatten"/> returns beside the leaves.
/// Two trees have equal TreeDefs when they have the same containers, the same dictionary keys, the same [Pytree] types
/// and equal static (auxiliary) data.</summary>
public sealed class TreeDef : IEquatable<TreeDef>
{
    internal enum Kind { Leaf, Scalar, None, Tuple, Array, List, Dict, Custom }
    internal Kind NodeKind { get; }
    internal Type? Type { get; }
    internal object?[] Aux { get; }
    internal IPytreeNode? Prototype { get; }
    /// <summary>The structures of the node's children, in flattening order (empty for leaves and null).</summary>
    public IReadOnlyList<TreeDef> Children { get; }
    /// <summary>Number of tensor leaves.</summary>
    public int NumLeaves { get; }

    internal TreeDef(Kind kind, Type? type, TreeDef[] children, object?[]? aux = null, IPytreeNode? prototype = null)
    {
        NodeKind = kind;
        Type = type;
        Children = children;
        Aux = aux ?? [];
        Prototype = prototype;
        NumLeaves = kind is Kind.Leaf or Kind.Scalar ? 1 : children.Sum(c => c.NumLeaves);
    }

    /// <summary>The structure of a single tensor: <c>PyTreeDef(*)</c>.</summary>
    public static readonly TreeDef Leaf = new(Kind.Leaf, typeof(Tensor), []);

    /// <summary>Structural equality; static data is compared with <see cref="StructuralComparisons"/>, so arrays compare by value.</summary>
    public bool Equals(TreeDef? o) =>
        o is not null && (ReferenceEquals(o, this) || (
        o.NodeKind == NodeKind && o.Type == Type && o.Children.Count == Children.Count &&
        o.Aux.Length == Aux.Length && o.Aux.Zip(Aux).All(p => StructuralComparisons.StructuralEqualityComparer.Equals(p.First, p.Second)) &&
        o.Children.Zip(Children).All(p => p.First.Equals(p.Second))));
    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is TreeDef t && Equals(t);
    /// <inheritdoc />
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(NodeKind); h.Add(Type);
        foreach (var a in Aux) h.Add(a is null ? 0 : StructuralComparisons.StructuralEqualityComparer.GetHashCode(a));
        foreach (var c in Children) h.Add(c);
        return h.ToHashCode();
    }

    /// <summary>JAX style: <c>PyTreeDef((*, [*, *], {'b': *}))</c>; a [Pytree] node prints as
    /// <c>Dense(W=*, B=*, static=['relu'])</c>.</summary>
    public override string ToString() => $"PyTreeDef({Render()})";

    internal string Render() => NodeKind switch
    {
        Kind.Leaf => "*",
        Kind.Scalar => "*",
        Kind.None => "None",
        Kind.Tuple => "(" + string.Join(", ", Children.Select(c => c.Render())) + (Children.Count == 1 ? ",)" : ")"),
        Kind.Array or Kind.List => "[" + string.Join(", ", Children.Select(c => c.Render())) + "]",
        Kind.Dict => "{" + string.Join(", ", Aux.Zip(Children).Select(p => $"'{p.First}': {p.Second.Render()}")) + "}",
        Kind.Custom => $"{Tree.TypeName(Type!)}(" + string.Join(", ", Prototype!.ChildNames().Zip(Children).Select(p => $"{p.First}={p.Second.Render()}")) +
                       (Aux.Length > 0 ? (Children.Count > 0 ? ", " : "") + "static=[" + string.Join(", ", Aux.Select(FormatAux)) + "]" : "") + ")",
        _ => "?",
    };

    private static string FormatAux(object? a) => a switch
    {
        null => "null",
        string s => $"'{s}'",
        bool b => b ? "true" : "false",
        IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
        IEnumerable e => "[" + string.Join(", ", e.Cast<object?>().Select(FormatAux)) + "]",
        _ => a.ToString() ?? "",
    };

    /// <summary>The path and the two sub-structures where this tree first differs from <paramref name="other"/>.</summary>
    internal (string Path, TreeDef A, TreeDef B)? FirstDifference(TreeDef other, string path)
    {
        if (NodeKind != other.NodeKind || Type != other.Type || Children.Count != other.Children.Count ||
            Aux.Length != other.Aux.Length || !Aux.Zip(other.Aux).All(p => StructuralComparisons.StructuralEqualityComparer.Equals(p.First, p.Second)))
            return (path, this, other);
        for (int i = 0; i < Children.Count; i++)
            if (Children[i].FirstDifference(other.Children[i], path + ChildPath(i)) is { } d) return d;
        return null;
    }

    private string ChildPath(int i) => NodeKind switch
    {
        Kind.Tuple => $".Item{i + 1}",
        Kind.Dict => $"['{Aux[i]}']",
        Kind.Custom => "." + Prototype!.ChildNames()[i],
        _ => $"[{i}]",
    };
}

/// <summary>Pytrees: nested containers of tensors that transforms accept and return — Tensor, C# scalars (float, double,
/// int, long, bool), null, value tuples, arrays, <c>List&lt;T&gt;</c>, <c>Dictionary&lt;string, T&gt;</c> (flattened in
/// sorted key order) and types marked <see cref="PytreeAttribute"/>.</summary>
/// <example><code>
/// [Pytree] public partial record Dense(Tensor W, Tensor B, [Static] string Activation);
///
/// var (leaves, def) = Tree.Flatten((Np.Ones([2]), new[] { Np.Zeros([3]) }));   // 2 leaves, PyTreeDef((*, [*]))
/// var doubled = Tree.Map(t => t * 2, (a: Np.Ones([2]), b: Np.Ones([3])));
/// Dense moved = Tree.Map((p, g) => p - 0.1f * g, layer, grads);              // same record type back
/// </code></example>
public static class Tree
{
    /// <summary>The leaves in order (depth first; dictionaries by sorted key; [Pytree] members in declaration order)
    /// and the structure. Scalars become weakly typed rank-0 tensors.</summary>
    /// <exception cref="TreeStructureError">A value in the tree is not a pytree; the message gives its path.</exception>
    public static (List<Tensor> Leaves, TreeDef Def) Flatten(object? tree)
    {
        var leaves = new List<Tensor>();
        try
        {
            var def = FlattenInto(tree, leaves);
            return (leaves, def);
        }
        catch (NotAPytree e)
        {
            e.Segments.Reverse();
            throw new TreeStructureError($"tree{string.Concat(e.Segments)} {e.Explanation}");
        }
    }

    /// <summary>The leaves of a tree, in the order of <see cref="Flatten"/>.</summary>
    public static List<Tensor> Leaves(object? tree) => Flatten(tree).Leaves;
    /// <summary>The structure of a tree, without its leaves.</summary>
    public static TreeDef Structure(object? tree) => Flatten(tree).Def;

    /// <summary>Thrown inside FlattenInto; each container on the way up adds its path segment, so that the success path
    /// builds no path strings.</summary>
    private sealed class NotAPytree(string explanation) : Exception(explanation)
    {
        public string Explanation { get; } = explanation;
        public List<string> Segments { get; } = [];
    }

    private static TreeDef FlattenChild(object? x, List<Tensor> leaves, object segment, int kind)
    {
        try { return FlattenInto(x, leaves); }
        catch (NotAPytree e)
        {
            e.Segments.Add(kind switch { 0 => $"[{segment}]", 1 => $".Item{segment}", 2 => $"['{segment}']", _ => $".{segment}" });
            throw;
        }
    }

    private static TreeDef FlattenInto(object? x, List<Tensor> leaves)
    {
        switch (x)
        {
            case null: return NoneDef;
            case Tensor t: leaves.Add(t); return TreeDef.Leaf;
            case float f: leaves.Add(f); return FloatDef;
            case double d: leaves.Add(d); return DoubleDef;
            case int i: leaves.Add(i); return IntDef;
            case long l: leaves.Add(l); return LongDef;
            case bool b: leaves.Add(b); return BoolDef;
            case IPytreeNode node:
            {
                var kids = node.FlattenChildren();
                var names = node.ChildNames();
                if (names.Length != kids.Length)
                    throw new TreeStructureError($"{TypeName(x.GetType())}.FlattenChildren returned {kids.Length} children but ChildNames has {names.Length} names");
                var defs = new TreeDef[kids.Length];
                for (int i = 0; i < kids.Length; i++) defs[i] = FlattenChild(kids[i], leaves, names[i], 3);
                return new TreeDef(TreeDef.Kind.Custom, x.GetType(), defs, node.AuxData(), node);
            }
            case ITuple tup when Info(x.GetType()).IsTuple:
            {
                var defs = new TreeDef[tup.Length];
                for (int i = 0; i < tup.Length; i++) defs[i] = FlattenChild(tup[i], leaves, i + 1, 1);
                return new TreeDef(TreeDef.Kind.Tuple, x.GetType(), defs);
            }
            case Array arr when arr.Rank == 1:
            {
                var defs = new TreeDef[arr.Length];
                for (int i = 0; i < arr.Length; i++) defs[i] = FlattenChild(arr.GetValue(i), leaves, i, 0);
                return new TreeDef(TreeDef.Kind.Array, x.GetType(), defs);
            }
            case IDictionary dict when Info(x.GetType()).StringKeyed:
            {
                if (dict.IsReadOnly || !Info(x.GetType()).Constructible)
                    throw new NotAPytree($"of type {TypeName(x.GetType())} is a read-only dictionary, which Unflatten cannot rebuild; use Dictionary<string, T>");
                var keys = new string[dict.Count];
                dict.Keys.CopyTo(keys, 0);
                Array.Sort(keys, StringComparer.Ordinal);
                var defs = new TreeDef[keys.Length];
                for (int i = 0; i < keys.Length; i++) defs[i] = FlattenChild(dict[keys[i]], leaves, keys[i], 2);
                return new TreeDef(TreeDef.Kind.Dict, x.GetType(), defs, keys);
            }
            case IList list when x.GetType().IsGenericType:
            {
                if (list.IsReadOnly || list.IsFixedSize || !Info(x.GetType()).Constructible)
                    throw new NotAPytree($"of type {TypeName(x.GetType())} is a read-only or fixed-size list, which Unflatten cannot rebuild; use an array or List<T>");
                var defs = new TreeDef[list.Count];
                for (int i = 0; i < list.Count; i++) defs[i] = FlattenChild(list[i], leaves, i, 0);
                return new TreeDef(TreeDef.Kind.List, x.GetType(), defs);
            }
            default:
                var hint = x is string or Enum or Delegate || x.GetType().IsPrimitive
                    ? " Configuration values such as this belong in a [Static] member of a [Pytree] type (they are then part of the tree's structure)."
                    : $" If {TypeName(x.GetType())} is your own type, declare it 'partial' and mark it [Pytree].";
                throw new NotAPytree($"of type {TypeName(x.GetType())} is not a pytree: pytrees are made of Tensor, float, double, int, long, bool, " +
                                     "null, value tuples, arrays, List<T>, Dictionary<string, T> and types marked [Pytree]." + hint);
        }
    }

    private static readonly TreeDef NoneDef = new(TreeDef.Kind.None, null, []);
    private static readonly TreeDef FloatDef = new(TreeDef.Kind.Scalar, typeof(float), []);
    private static readonly TreeDef DoubleDef = new(TreeDef.Kind.Scalar, typeof(double), []);
    private static readonly TreeDef IntDef = new(TreeDef.Kind.Scalar, typeof(int), []);
    private static readonly TreeDef LongDef = new(TreeDef.Kind.Scalar, typeof(long), []);
    private static readonly TreeDef BoolDef = new(TreeDef.Kind.Scalar, typeof(bool), []);

    /// <summary>Reflection facts about a container type, computed once per type (flattening runs on every transformed call).</summary>
    /// <param name="IsTuple">A ValueTuple or Tuple.</param>
    /// <param name="StringKeyed">Implements IReadOnlyDictionary&lt;string, V&gt;.</param>
    /// <param name="Constructible">Unflatten can create an empty instance (a struct or a parameterless constructor).</param>
    /// <param name="Element">The declared type of a list's elements or a dictionary's values (null when unknown).</param>
    private sealed record TypeInfo(bool IsTuple, bool StringKeyed, bool Constructible, Type? Element);
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, TypeInfo> Infos = new();

    private static TypeInfo Info(Type t) => Infos.GetOrAdd(t, static t =>
    {
        var interfaces = t.GetInterfaces().Where(i => i.IsGenericType).ToArray();
        var dict = interfaces.FirstOrDefault(i => i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) && i.GetGenericArguments()[0] == typeof(string));
        var list = interfaces.FirstOrDefault(i => i.GetGenericTypeDefinition() == typeof(IList<>));
        return new TypeInfo(
            t.IsGenericType && (t.FullName!.StartsWith("System.ValueTuple`", StringComparison.Ordinal) || t.FullName.StartsWith("System.Tuple`", StringComparison.Ordinal)),
            dict is not null,
            !t.IsAbstract && (t.IsValueType || t.GetConstructor(Type.EmptyTypes) is not null),
            dict?.GetGenericArguments()[1] ?? list?.GetGenericArguments()[0]);
    });

    /// <summary>A C# spelling of a type for messages: <c>Pair&lt;Tensor&gt;</c> rather than <c>Pair`1</c>.</summary>
    internal static string TypeName(Type t)
    {
        if (t.IsArray) return TypeName(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        if (Nullable.GetUnderlyingType(t) is { } u) return TypeName(u) + "?";
        var name = t == typeof(float) ? "float" : t == typeof(double) ? "double" : t == typeof(int) ? "int" : t == typeof(long) ? "long"
            : t == typeof(bool) ? "bool" : t == typeof(string) ? "string" : t == typeof(object) ? "object" : t.Name;
        if (!t.IsGenericType) return name;
        var tick = name.IndexOf('`');
        if (tick >= 0) name = name[..tick];
        return $"{name}<{string.Join(", ", t.GetGenericArguments().Select(TypeName))}>";
    }

    /// <summary>Rebuilds a tree of the given structure from leaves (in the order of <see cref="Flatten"/>).
    /// A scalar leaf comes back as its C# type when its new value is a concrete rank-0 tensor of a matching kind
    /// (a float for a float, an integer dtype for an int...), and as the tensor otherwise (a tracer, or a value the
    /// function made non-scalar or of another kind).</summary>
    /// <exception cref="TreeStructureError">The number of leaves differs from the structure's, or a leaf does not
    /// fit the typed container that must hold it.</exception>
    public static object? Unflatten(TreeDef def, IEnumerable<Tensor> leaves)
    {
        var list = leaves as IReadOnlyList<Tensor> ?? leaves.ToList();
        if (list.Count != def.NumLeaves)
            throw new TreeStructureError($"Unflatten: the structure {def} has {def.NumLeaves} leaves, got {list.Count}");
        int pos = 0;
        return Build(def, list, ref pos, "tree");
    }

    /// <summary><see cref="Unflatten(TreeDef, IEnumerable{Tensor})"/> cast to the tree's type.</summary>
    public static T Unflatten<T>(TreeDef def, IEnumerable<Tensor> leaves) => (T)Unflatten(def, leaves)!;

    private static object? Build(TreeDef def, IReadOnlyList<Tensor> leaves, ref int pos, string path)
    {
        switch (def.NodeKind)
        {
            case TreeDef.Kind.None: return null;
            case TreeDef.Kind.Leaf: return leaves[pos++];
            case TreeDef.Kind.Scalar: return ScalarOrTensor(leaves[pos++], def.Type!);
            case TreeDef.Kind.Tuple:
            {
                var items = new object?[def.Children.Count];
                for (int i = 0; i < items.Length; i++) items[i] = Build(def.Children[i], leaves, ref pos, $"{path}.Item{i + 1}");
                return MakeTuple(def.Type!, items, 0, path);
            }
            case TreeDef.Kind.Array:
            {
                var elem = def.Type!.GetElementType()!;
                var arr = Array.CreateInstance(elem, def.Children.Count);
                for (int i = 0; i < arr.Length; i++)
                    arr.SetValue(Fit(Build(def.Children[i], leaves, ref pos, $"{path}[{i}]"), elem, $"{path}[{i}]"), i);
                return arr;
            }
            case TreeDef.Kind.List:
            {
                var list = (IList)Activator.CreateInstance(def.Type!)!;
                var elem = Info(def.Type!).Element;
                for (int i = 0; i < def.Children.Count; i++)
                    list.Add(Fit(Build(def.Children[i], leaves, ref pos, $"{path}[{i}]"), elem, $"{path}[{i}]"));
                return list;
            }
            case TreeDef.Kind.Dict:
            {
                var dict = (IDictionary)Activator.CreateInstance(def.Type!)!;
                var elem = Info(def.Type!).Element;
                for (int i = 0; i < def.Children.Count; i++)
                {
                    var key = (string)def.Aux[i]!;
                    dict[key] = Fit(Build(def.Children[i], leaves, ref pos, $"{path}['{key}']"), elem, $"{path}['{key}']");
                }
                return dict;
            }
            case TreeDef.Kind.Custom:
            {
                var names = def.Prototype!.ChildNames();
                var kids = new object?[def.Children.Count];
                for (int i = 0; i < kids.Length; i++) kids[i] = Build(def.Children[i], leaves, ref pos, $"{path}.{names[i]}");
                return def.Prototype.UnflattenChildren(kids);
            }
            default: throw new InvalidOperationException();
        }
    }

    private static object ScalarOrTensor(Tensor t, Type kind)
    {
        if (!t.IsConcrete || t.Rank != 0) return t;
        if (kind == typeof(float) && t.DType.IsFloating()) return t.Item<float>();
        if (kind == typeof(double) && t.DType.IsFloating()) return t.Item<double>();
        if (kind == typeof(int) && t.DType is DType.Int32 or DType.Int64 or DType.UInt32) return t.Item<int>();
        if (kind == typeof(long) && t.DType.IsInteger()) return t.Item<long>();
        if (kind == typeof(bool) && t.DType == DType.Bool) return t.Item<bool>();
        return t;
    }

    /// <summary>Checks that a rebuilt child fits the slot's declared type, with a message that explains the usual
    /// cause (a tracer or a non-scalar tensor where a C# scalar is declared).</summary>
    private static object? Fit(object? value, Type? slot, string path)
    {
        if (slot is null) return value;
        bool fits = value is null ? !slot.IsValueType || Nullable.GetUnderlyingType(slot) is not null : slot.IsInstanceOfType(value);
        return fits ? value : throw new TreeStructureError(Misfit(path, slot, value));
    }

    private static string Misfit(string path, Type slot, object? value)
    {
        if (value is null) return $"Unflatten: {path} is declared {TypeName(slot)} and cannot be null";
        var what = value is Tensor t ? (t.IsConcrete ? $"a tensor {t.Aval}" : $"a traced value {t.Aval}") : $"a {TypeName(value.GetType())}";
        var scalar = Nullable.GetUnderlyingType(slot) ?? slot;
        var fix = value is Tensor && (scalar == typeof(float) || scalar == typeof(double) || scalar == typeof(int) || scalar == typeof(long) || scalar == typeof(bool))
            ? $" A C# {TypeName(scalar)} can hold neither a tracer nor a non-scalar or differently typed tensor: declare it as Tensor so that " +
              "transforms can trace and change it, or make it [Static] configuration."
            : "";
        return $"Unflatten: {path} is declared {TypeName(slot)} but its new value is {what}.{fix}";
    }

    /// <summary>Per tuple type: its item types and its constructor, found once (a jitted call rebuilds its output tuples
    /// on every call).</summary>
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Type, (Type[] Items, System.Reflection.ConstructorInvoker New)> TupleMakers = new();

    /// <summary>Builds a value tuple or tuple from its flattened items; tuples of more than 7 items nest the rest in an 8th.</summary>
    private static object MakeTuple(Type type, object?[] items, int start, string path)
    {
        var (args, make) = TupleMakers.GetOrAdd(type, static t =>
        {
            var a = t.GetGenericArguments();
            return (a, System.Reflection.ConstructorInvoker.Create(t.GetConstructor(a)!));
        });
        var values = new object?[args.Length];
        for (int i = 0; i < args.Length; i++)
        {
            if (i == 7) values[i] = MakeTuple(args[i], items, start + 7, path);
            else values[i] = Fit(items[start + i], args[i], $"{path}.Item{start + i + 1}");
        }
        return make.Invoke(values)!;
    }

    /// <summary>Applies f to every leaf; the result has the same structure and type as <paramref name="tree"/>.</summary>
    /// <example><code>var half = Tree.Map(t => t / 2, model);</code></example>
    public static T Map<T>(Func<Tensor, Tensor> f, T tree)
    {
        var (leaves, def) = Flatten(tree);
        return (T)Unflatten(def, leaves.Select(f))!;
    }

    /// <summary>Applies f to corresponding leaves of two trees of the same structure.</summary>
    /// <exception cref="TreeStructureError">The structures differ; the message shows both and where they first differ.</exception>
    public static T Map<T>(Func<Tensor, Tensor, Tensor> f, T a, T b)
    {
        var (la, da) = Flatten(a);
        var (lb, db) = Flatten(b);
        CheckSame(da, db, "Tree.Map");
        return (T)Unflatten(da, la.Zip(lb, f))!;
    }

    /// <summary>Applies f to corresponding leaves of three trees of the same structure.</summary>
    /// <exception cref="TreeStructureError">The structures differ; the message shows both and where they first differ.</exception>
    public static T Map<T>(Func<Tensor, Tensor, Tensor, Tensor> f, T a, T b, T c)
    {
        var (la, da) = Flatten(a);
        var (lb, db) = Flatten(b);
        var (lc, dc) = Flatten(c);
        CheckSame(da, db, "Tree.Map");
        CheckSame(da, dc, "Tree.Map");
        return (T)Unflatten(da, la.Select((x, i) => f(x, lb[i], lc[i])))!;
    }

    /// <summary>Throws a <see cref="TreeStructureError"/> that shows both structures, and the path where they first
    /// differ, when they differ.</summary>
    public static void CheckSame(TreeDef a, TreeDef b, string what)
    {
        if (a.Equals(b)) return;
        var diff = a.FirstDifference(b, "tree");
        var at = diff is { } d ? $"\n  first difference at {d.Path}: {d.A.Render()} vs {d.B.Render()}" : "";
        throw new TreeStructureError($"{what}: pytree structures differ:\n  {a}\n  {b}{at}");
    }

    /// <summary>Used by the code that the [Pytree] source generator writes: checks the number of children given to
    /// <see cref="IPytreeNode.UnflattenChildren"/>.</summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public static void CheckChildCount(object?[] children, int count, string owner)
    {
        if (children.Length != count)
            throw new TreeStructureError($"{owner}.UnflattenChildren: expected {count} children, got {children.Length}");
    }

    /// <summary>Used by the code that the [Pytree] source generator writes: child <paramref name="index"/> as the
    /// member's declared type, or a <see cref="TreeStructureError"/> that names the member and explains the mismatch.</summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public static T UnflattenChild<T>(object?[] children, int index, string owner, string name)
    {
        var c = children[index];
        if (c is T t) return t;
        if (c is null && default(T) is null) return default!;
        throw new TreeStructureError(Misfit($"{owner}.{name}", typeof(T), c));
    }
}
