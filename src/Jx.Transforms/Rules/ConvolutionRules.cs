namespace Jx;

/// <summary>Differentiation and batching rules of conv_general_dilated and the windowed reductions.</summary>
internal static class ConvolutionRules
{
    internal static void Register()
    {
    }
}
