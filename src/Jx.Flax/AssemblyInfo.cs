using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Jx.Jit")]
[assembly: InternalsVisibleTo("Jx.Tests")]
[assembly: InternalsVisibleTo("Jx.PropertyTests")]
[assembly: InternalsVisibleTo("Jx.Benchmarks")]
