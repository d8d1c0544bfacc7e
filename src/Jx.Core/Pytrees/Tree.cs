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

/// <summary>Marks a partial record as a pytree; the Jx source generator implements <see cref="IPytreeNode"/>.</summary>
/// <example><code>[Pytree] public partial record Params(Tensor W, Tensor B);</code></example>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct)]
public sealed class PytreeAttribute : Attribute;

/// <summary>Marks a property of a [Pytree] record as static auxiliary data rather than a child.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter | AttributeTargets.Field)]
public sealed class StaticAttribute : Attribute;

/// <summary>The structure of a pytree without its leaves: what <see cref="Tree.Flatten"/> returns beside the leaves.</summary>
public sealed class TreeDef : IEquatable<TreeDef>
{
    internal enum Kind { Leaf, Scalar, None, Tuple, Array, List, Dict, Custom }
    internal Kind NodeKind { get; }
    internal Type? Type { get; }
    internal object?[] Aux { get; }
    internal IPytreeNode? Prototype { get; }
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

    public static readonly TreeDef Leaf = new(Kind.Leaf, typeof(Tensor), []);

    public bool Equals(TreeDef? o) =>
        o is not null && o.NodeKind == NodeKind && o.Type == Type && o.Children.Count == Children.Count &&
        o.Aux.Length == Aux.Length && o.Aux.Zip(Aux).All(p => Equals(p.First, p.Second)) &&
        o.Children.Zip(Children).All(p => p.First.Equals(p.Second));
    public override bool Equals(object? obj) => obj is TreeDef t && Equals(t);
    public override int GetHashCode()
    {
        var h = new HashCode();
        h.Add(NodeKind); h.Add(Type);
        foreach (var a in Aux) h.Add(a);
        foreach (var c in Children) h.Add(c);
        return h.ToHashCode();
    }

    /// <summary>JAX style: PyTreeDef((*, [*, *], {'b': *})).</summary>
    public override string ToString() => $"PyTreeDef({Render()})";

    internal string Render() => NodeKind switch
    {
        Kind.Leaf => "*",
        Kind.Scalar => "*",
        Kind.None => "None",
        Kind.Tuple => "(" + string.Join(", ", Children.Select(c => c.Render())) + (Children.Count == 1 ? ",)" : ")"),
        Kind.Array or Kind.List => "[" + string.Join(", ", Children.Select(c => c.Render())) + "]",
        Kind.Dict => "{" + string.Join(", ", Aux.Zip(Children).Select(p => $"'{p.First}': {p.Second.Render()}")) + "}",
        Kind.Custom => $"{Type!.Name}(" + string.Join(", ", Prototype!.ChildNames().Zip(Children).Select(p => $"{p.First}={p.Second.Render()}")) +
                       (Aux.Length > 0 ? ", static=[" + string.Join(", ", Aux.Select(a => a?.ToString() ?? "null")) + "]" : "") + ")",
        _ => "?",
    };
}

/// <summary>Pytrees: nested containers of tensors that transforms accept and return — Tensor, C# scalars, null,
/// value tuples, arrays, lists, <c>IReadOnlyDictionary&lt;string, T&gt;</c> (sorted keys) and [Pytree] records.</summary>
/// <example><code>
/// var (leaves, def) = Tree.Flatten((Np.Ones([2]), new[] { Np.Zeros([3]) }));
/// var doubled = Tree.Map(t => t * 2, (a: Np.Ones([2]), b: Np.Ones([3])));
/// </code></example>
public static class Tree
{
    /// <summary>The leaves in order and the structure.</summary>
    public static (List<Tensor> Leaves, TreeDef Def) Flatten(object? tree)
    {
        var leaves = new List<Tensor>();
        var def = FlattenInto(tree, leaves, "tree");
        return (leaves, def);
    }

    public static List<Tensor> Leaves(object? tree) => Flatten(tree).Leaves;
    public static TreeDef Structure(object? tree) => Flatten(tree).Def;

    private static TreeDef FlattenInto(object? x, List<Tensor> leaves, string path)
    {
        switch (x)
        {
            case null: return new TreeDef(TreeDef.Kind.None, null, []);
            case Tensor t: leaves.Add(t); return TreeDef.Leaf;
            case float f: leaves.Add(f); return new TreeDef(TreeDef.Kind.Scalar, typeof(float), []);
            case double d: leaves.Add(d); return new TreeDef(TreeDef.Kind.Scalar, typeof(double), []);
            case int i: leaves.Add(i); return new TreeDef(TreeDef.Kind.Scalar, typeof(int), []);
            case long l: leaves.Add(l); return new TreeDef(TreeDef.Kind.Scalar, typeof(long), []);
            case bool b: leaves.Add(b); return new TreeDef(TreeDef.Kind.Scalar, typeof(bool), []);
            case IPytreeNode node:
            {
                var kids = node.FlattenChildren();
                var names = node.ChildNames();
                var defs = kids.Select((k, i) => FlattenInto(k, leaves, $"{path}.{names[i]}")).ToArray();
                return new TreeDef(TreeDef.Kind.Custom, x.GetType(), defs, node.AuxData(), node);
            }
            case ITuple tup when IsTupleType(x.GetType()):
            {
                var defs = new TreeDef[tup.Length];
                for (int i = 0; i < tup.Length; i++) defs[i] = FlattenInto(tup[i], leaves, $"{path}.Item{i + 1}");
                return new TreeDef(TreeDef.Kind.Tuple, x.GetType(), defs);
            }
            case Array arr when arr.Rank == 1:
            {
                var defs = new TreeDef[arr.Length];
                for (int i = 0; i < arr.Length; i++) defs[i] = FlattenInto(arr.GetValue(i), leaves, $"{path}[{i}]");
                return new TreeDef(TreeDef.Kind.Array, x.GetType(), defs);
            }
            case IDictionary dict when StringKeyed(x.GetType()):
            {
                var keys = dict.Keys.Cast<string>().OrderBy(k => k, StringComparer.Ordinal).ToArray();
                var defs = keys.Select(k => FlattenInto(dict[k], leaves, $"{path}['{k}']")).ToArray();
                return new TreeDef(TreeDef.Kind.Dict, x.GetType(), defs, keys.Cast<object?>().ToArray());
            }
            case IList list when x.GetType().IsGenericType:
            {
                var defs = new TreeDef[list.Count];
                for (int i = 0; i < list.Count; i++) defs[i] = FlattenInto(list[i], leaves, $"{path}[{i}]");
                return new TreeDef(TreeDef.Kind.List, x.GetType(), defs);
            }
            default:
                throw new TreeStructureError($"{path} of type {x.GetType().Name} is not a pytree: use Tensor, C# numbers, null, value tuples, arrays, " +
                                             "List<T>, Dictionary<string, T> or a record marked [Pytree]");
        }
    }

    private static bool IsTupleType(Type t) => t.IsGenericType && (t.FullName!.StartsWith("System.ValueTuple`") || t.FullName.StartsWith("System.Tuple`"));
    private static bool StringKeyed(Type t) => t.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IReadOnlyDictionary<,>) && i.GetGenericArguments()[0] == typeof(string));

    /// <summary>Rebuilds a tree of the given structure from leaves.</summary>
    public static object? Unflatten(TreeDef def, IEnumerable<Tensor> leaves)
    {
        var list = leaves as IReadOnlyList<Tensor> ?? leaves.ToList();
        if (list.Count != def.NumLeaves)
            throw new TreeStructureError($"Unflatten: the structure {def} has {def.NumLeaves} leaves, got {list.Count}");
        int pos = 0;
        return Build(def, list, ref pos);
    }

    public static T Unflatten<T>(TreeDef def, IEnumerable<Tensor> leaves) => (T)Unflatten(def, leaves)!;

    private static object? Build(TreeDef def, IReadOnlyList<Tensor> leaves, ref int pos)
    {
        switch (def.NodeKind)
        {
            case TreeDef.Kind.None: return null;
            case TreeDef.Kind.Leaf: return leaves[pos++];
            case TreeDef.Kind.Scalar:
            {
                var t = leaves[pos++];
                if (!t.IsConcrete) return t;
                return def.Type == typeof(float) ? t.Item<float>() : def.Type == typeof(double) ? t.Item<double>()
                    : def.Type == typeof(int) ? t.Item<int>() : def.Type == typeof(long) ? t.Item<long>() : t.Item<bool>();
            }
            case TreeDef.Kind.Tuple:
            {
                var items = new object?[def.Children.Count];
                for (int i = 0; i < items.Length; i++) items[i] = Build(def.Children[i], leaves, ref pos);
                return Activator.CreateInstance(def.Type!, items);
            }
            case TreeDef.Kind.Array:
            {
                var arr = Array.CreateInstance(def.Type!.GetElementType()!, def.Children.Count);
                for (int i = 0; i < arr.Length; i++) arr.SetValue(Build(def.Children[i], leaves, ref pos), i);
                return arr;
            }
            case TreeDef.Kind.List:
            {
                var list = (IList)Activator.CreateInstance(def.Type!)!;
                foreach (var c in def.Children) list.Add(Build(c, leaves, ref pos));
                return list;
            }
            case TreeDef.Kind.Dict:
            {
                var dict = (IDictionary)Activator.CreateInstance(def.Type!)!;
                for (int i = 0; i < def.Children.Count; i++) dict[(string)def.Aux[i]!] = Build(def.Children[i], leaves, ref pos);
                return dict;
            }
            case TreeDef.Kind.Custom:
            {
                var kids = new object?[def.Children.Count];
                for (int i = 0; i < kids.Length; i++) kids[i] = Build(def.Children[i], leaves, ref pos);
                return def.Prototype!.UnflattenChildren(kids);
            }
            default: throw new InvalidOperationException();
        }
    }

    /// <summary>Applies f to every leaf.</summary>
    public static T Map<T>(Func<Tensor, Tensor> f, T tree)
    {
        var (leaves, def) = Flatten(tree);
        return (T)Unflatten(def, leaves.Select(f))!;
    }

    /// <summary>Applies f to corresponding leaves of two trees of the same structure.</summary>
    public static T Map<T>(Func<Tensor, Tensor, Tensor> f, T a, T b)
    {
        var (la, da) = Flatten(a);
        var (lb, db) = Flatten(b);
        CheckSame(da, db, "Tree.Map");
        return (T)Unflatten(da, la.Zip(lb, f))!;
    }

    /// <summary>Applies f to corresponding leaves of three trees of the same structure.</summary>
    public static T Map<T>(Func<Tensor, Tensor, Tensor, Tensor> f, T a, T b, T c)
    {
        var (la, da) = Flatten(a);
        var (lb, db) = Flatten(b);
        var (lc, dc) = Flatten(c);
        CheckSame(da, db, "Tree.Map");
        CheckSame(da, dc, "Tree.Map");
        return (T)Unflatten(da, la.Select((x, i) => f(x, lb[i], lc[i])))!;
    }

    /// <summary>Throws a <see cref="TreeStructureError"/> that shows both structures when they differ.</summary>
    public static void CheckSame(TreeDef a, TreeDef b, string what)
    {
        if (!a.Equals(b))
            throw new TreeStructureError($"{what}: pytree structures differ:\n  {a}\n  {b}");
    }
}
