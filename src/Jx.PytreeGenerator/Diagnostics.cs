using Microsoft.CodeAnalysis;

namespace Jx.PytreeGenerator;

/// <summary>The diagnostics of the [Pytree] generator (JX0001...).</summary>
internal static class Diagnostics
{
    private const string Category = "Jx.Pytree";

    public static readonly DiagnosticDescriptor NotPartial = new(
        "JX0001", "[Pytree] type must be partial",
        "[Pytree] type '{0}' must be declared partial so that the generated IPytreeNode implementation can be added to it: write 'partial {1} {0}'",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor ContainerNotPartial = new(
        "JX0002", "Type containing a [Pytree] type must be partial",
        "[Pytree] type '{0}' is nested in '{1}', which must also be declared partial so that the generated code can be nested in it",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NeverPytree = new(
        "JX0003", "Child of a [Pytree] type can never be a pytree",
        "'{1}' of [Pytree] type '{0}' has type '{2}', which can never be a pytree: {3}. Mark it [Static] if it is configuration " +
        "rather than data (it then becomes part of the tree structure), or give it a pytree type: Tensor, float/double/int/long/bool, " +
        "a value tuple, array, List<T> or Dictionary<string, T> of those, or a [Pytree] type.",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor NotSettable = new(
        "JX0004", "Child of a [Pytree] type cannot be set on a copy",
        "'{1}' of [Pytree] type '{0}' is a child, but the generated UnflattenChildren cannot set it on a copy: {2}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor UnsupportedType = new(
        "JX0005", "This kind of type cannot be a pytree",
        "'{0}' cannot be marked [Pytree]: {1}",
        Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    public static readonly DiagnosticDescriptor Ignored = new(
        "JX0006", "Data member of a [Pytree] type is neither a child nor static",
        "'{1}' of [Pytree] type '{0}' is {2}, so it is neither a child nor static data: transforms would not see it and Unflatten " +
        "would copy its old value. Mark it [Static] if it is configuration, or give it a setter (or init accessor) to make it a child.",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "JX0001" => NotPartial,
        "JX0002" => ContainerNotPartial,
        "JX0003" => NeverPytree,
        "JX0004" => NotSettable,
        "JX0005" => UnsupportedType,
        _ => Ignored,
    };
}
