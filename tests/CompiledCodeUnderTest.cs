using System.Runtime.CompilerServices;

namespace Jx.Tests;

/// <summary>Turns tiered compilation off for this test assembly: a jitted call runs the compiled program from its first
/// call, so the Jit tests exercise generated code, not the interpreter that answers while a program compiles. Tests of
/// tiered compilation itself turn it back on.</summary>
internal static class CompiledCodeUnderTest
{
    [ModuleInitializer]
    internal static void Initialize() => JitOptions.Tiered = false;
}
