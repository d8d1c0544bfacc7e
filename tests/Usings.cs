global using Xunit;
global using Jx;
