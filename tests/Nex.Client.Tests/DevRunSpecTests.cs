using Nex.Protocol;
using Xunit;

namespace Nex.Client.Tests;

public sealed class DevRunSpecTests
{
    [Fact]
    public void Defaults_AreTheCliDefaults_StopThePreviousAndA100MiBBucket()
    {
        var spec = new DevRunSpec { Path = "/tmp/echo.service.js", Type = WorkloadTypes.V8 };
        Assert.True(spec.StopPrevious);
        Assert.Equal(ArtifactStore.DefaultMaxBytes, spec.BucketMaxBytes);
        Assert.Null(spec.Node);
        Assert.Null(spec.KeysHome);
    }

    [Theory]
    [InlineData("/tmp/echo.service.js", "echoservicejs")]
    [InlineData("sleeper", "sleeper")]
    public void Name_IsTheFileNameWithoutDots_AsTheObjectKey(string path, string name)
    {
        var spec = new DevRunSpec { Path = path, Type = WorkloadTypes.Native };
        Assert.Equal(name, spec.Name);
        Assert.Equal(ArtifactStore.KeyForFile(path), spec.Name);
    }
}
