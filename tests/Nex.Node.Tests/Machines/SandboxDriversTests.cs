using Nex.Node.Config;
using Nex.Node.Machines;
using Xunit;

namespace Nex.Node.Tests.Machines;

/// <summary>The registry every part of the node and CLI reads sandbox drivers from (pure; no host probes).</summary>
public sealed class SandboxDriversTests
{
    [Fact]
    public void TheDrivers_AreNoneContainerMicroVm_InPreflightOrder()
    {
        Assert.Equal(["none", "container", "microvm"], SandboxDrivers.All.Select(d => d.Name));
        Assert.Equal("none, container, microvm", SandboxDrivers.NameList);
        Assert.Equal(["none", "container", "microvm", "all"], SandboxDrivers.PreflightChoices);
    }

    [Theory]
    [InlineData("none", "none")]
    [InlineData("container", "container")]
    [InlineData("microvm", "microvm")]
    [InlineData("Container", null)]
    [InlineData("docker", null)]
    [InlineData("all", null)]
    [InlineData("", null)]
    public void Find_IsExactAndCaseSensitive_AsTheConfigIs(string name, string? expected) =>
        Assert.Equal(expected, SandboxDrivers.Find(name)?.Name);

    [Fact]
    public void WhatDiffers_BetweenDrivers()
    {
        Assert.Equal(["container", "microvm"], SandboxDrivers.All.Where(d => d.IsSandbox).Select(d => d.Name));
        Assert.Equal(["container"], SandboxDrivers.All.Where(d => d.SupportsOciImages).Select(d => d.Name));
        Assert.Equal(["microvm"], SandboxDrivers.All.Where(d => d.NeedsVmImages).Select(d => d.Name));
    }

    [Theory]
    [InlineData("all", new[] { "none", "container", "microvm" })]
    [InlineData("container", new[] { "container" })]
    [InlineData("none", new[] { "none" })]
    [InlineData("docker", new string[0])]
    public void Selected_CoversOneDriverByName_OrEveryOneForAll(string choice, string[] expected) =>
        Assert.Equal(expected, SandboxDrivers.Selected(choice).Select(d => d.Name));

    [Fact]
    public void TheNoneDriver_ChecksNothingOfItsOwn_SoPreflightIsTheNodesAlone()
    {
        Assert.Empty(SandboxDrivers.None.Preflight(new SandboxPreflightTarget("/nonexistent/rootfs", "/nonexistent/vm", null)));
        Assert.All(SandboxPreflight.For("none", "/nonexistent/rootfs"), c => Assert.Equal("node", c.Driver));
        Assert.All(SandboxPreflight.For("docker", "/nonexistent/rootfs"), c => Assert.Equal("node", c.Driver));
    }

    [Theory]
    [InlineData("{}", true)]
    [InlineData("{\"sandbox\":\"none\"}", true)]
    [InlineData("{\"no_sandbox\":false}", false)]
    [InlineData("{\"sandbox\":\"container\"}", false)]
    public void IsNoSandbox_IsTheNoneDriver(string json, bool expected)
    {
        var config = NodeConfigLoader.Parse(json);
        Assert.Equal(expected, config.IsNoSandbox);
        Assert.Equal(!expected, SandboxDrivers.Find(config.EffectiveSandbox)!.IsSandbox);
    }
}
