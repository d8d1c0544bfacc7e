namespace Jx;

/// <summary>Differentiation rules of stop_gradient and of the linear helper primitives that custom_vjp and checkpoint
/// stage into linearized programs.</summary>
internal static class MiscRules
{
    internal static void Register()
    {
        ElementwiseRules.DefZero(Misc.StopGradient);
        CustomRules.Register();
    }
}
