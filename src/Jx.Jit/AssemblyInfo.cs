using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("Jx.Flax")]
[assembly: InternalsVisibleTo("Jx.Tests")]
[assembly: InternalsVisibleTo("Jx.PropertyTests")]
[assembly: InternalsVisibleTo("Jx.Benchmarks")]
