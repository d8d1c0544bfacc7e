namespace Jx.Tests;

/// <summary>Jx's startup profile (.NET's multicore JIT, started when Jx.Core loads): one file per program, under the
/// cache folder, never shared between two programs.</summary>
public class StartupProfileTests
{
    [Fact]
    public void EachProgramGetsItsOwnProfileFile()
    {
        var a = StartupProfile.FileName("MyApp", "/home/me/a/bin/MyApp.dll");
        var b = StartupProfile.FileName("MyApp", "/home/me/b/bin/MyApp.dll");
        Assert.NotEqual(a, b);
        Assert.Equal(a, StartupProfile.FileName("MyApp", "/home/me/a/bin/MyApp.dll"));
        Assert.StartsWith("MyApp-", a);
        Assert.EndsWith(".jitprofile", a);
    }

    [Fact]
    public void NamesThatAreNotFileNamesAreMadeSafe()
    {
        var name = StartupProfile.FileName("my app/../x", "/x.dll");
        Assert.DoesNotContain('/', name);
        Assert.DoesNotContain(' ', name);
        Assert.StartsWith("my_app_.._x-", name);
    }

    [Fact]
    public void ThisTestProcessRecordsAProfileUnderTheCacheFolder()
    {
        // Jx.Core's module initializer started it when the tests first touched Jx (unless turned off, or on one core).
        if (Environment.GetEnvironmentVariable("JX_STARTUP_PROFILE") == "0" || Environment.ProcessorCount < 2)
        {
            Assert.Null(StartupProfile.Path);
            return;
        }
        if (StartupProfile.Path is null)
        {
            // The only other reason to run without it: a cache folder that cannot be written.
            var dir = Path.Combine(JxCache.Directory, "startup");
            Assert.ThrowsAny<Exception>(() => { Directory.CreateDirectory(dir); File.WriteAllText(Path.Combine(dir, "probe-" + Guid.NewGuid().ToString("N")), ""); });
            return;
        }
        var entry = System.Reflection.Assembly.GetEntryAssembly()!;
        Assert.Equal(StartupProfile.FileName(entry.GetName().Name!, entry.Location), Path.GetFileName(StartupProfile.Path));
        Assert.Equal("startup", Path.GetFileName(Path.GetDirectoryName(StartupProfile.Path)));
    }
}
