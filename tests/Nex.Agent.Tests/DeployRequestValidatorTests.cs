using Nex.Protocol;
using Xunit;

namespace Nex.Agent.Tests;

public sealed class DeployRequestValidatorTests
{
    private static AgentDeployRequest Valid(string type = WorkloadTypes.Native) => new()
    {
        Namespace = "default",
        WorkloadName = "echo",
        WorkloadType = type,
        Hash = "abc",
        TotalBytes = 1,
        TriggerSubjects = WorkloadTypes.IsFunction(type) ? ["echo.>"] : null,
    };

    [Theory]
    [InlineData(WorkloadTypes.Native)]
    [InlineData(WorkloadTypes.V8)]
    [InlineData(WorkloadTypes.Wasm)]
    [InlineData(WorkloadTypes.Oci)]
    public void ValidRequest_HasNoErrors(string type)
    {
        Assert.Empty(DeployRequestValidator.Validate(Valid(type)));
        Assert.Null(DeployRequestValidator.RejectionMessage(Valid(type)));
    }

    [Theory]
    [InlineData(WorkloadTypes.V8, "reuse", null)]
    [InlineData(WorkloadTypes.V8, "fresh", null)]
    [InlineData(WorkloadTypes.Wasm, "fresh", null)]
    [InlineData(WorkloadTypes.Wasm, "reuse", "Invalid deploy request: function_context 'reuse' applies to v8 functions only, not 'wasm'")]
    [InlineData(WorkloadTypes.V8, "shared", "Invalid deploy request: function_context 'shared' is not one of 'fresh', 'reuse'")]
    [InlineData(WorkloadTypes.Native, "fresh", "Invalid deploy request: function_context applies to function workloads (v8, wasm) only, not 'native'")]
    public void FunctionContext_IsCheckedAgainstTheType(string type, string value, string? expected) =>
        Assert.Equal(expected, DeployRequestValidator.RejectionMessage(Valid(type) with { FunctionContext = value }));

    [Fact]
    public void EmptyRequest_ListsEveryMissingField_InOrder() =>
        Assert.Equal(
            "namespace is required\nworkload name is required\nhash is required\ntotal bytes is required\nworkload type is required",
            DeployRequestValidator.RejectionMessage(new AgentDeployRequest()));

    [Fact]
    public void EveryError_InTheGoOrder()
    {
        var request = new AgentDeployRequest { WorkloadType = WorkloadTypes.Wasm, Essential = true, TotalBytes = -1 };
        Assert.Equal(
            [
                "namespace is required",
                "workload name is required",
                "essential flag is not supported for workload type",
                "hash is required",
                "total bytes is required",
                "at least one trigger subject is required for this workload type",
            ],
            DeployRequestValidator.Validate(request));
    }

    [Fact]
    public void Namespace_IsRequired() =>
        Assert.Equal("namespace is required", DeployRequestValidator.RejectionMessage(Valid() with { Namespace = "" }));

    [Fact]
    public void WorkloadName_IsRequired() =>
        Assert.Equal("workload name is required", DeployRequestValidator.RejectionMessage(Valid() with { WorkloadName = "" }));

    [Fact]
    public void Hash_IsRequired() =>
        Assert.Equal("hash is required", DeployRequestValidator.RejectionMessage(Valid() with { Hash = "" }));

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void TotalBytes_MustBePositive_SoEmptyArtifactsAreRejected(long totalBytes) =>
        Assert.Equal("total bytes is required", DeployRequestValidator.RejectionMessage(Valid() with { TotalBytes = totalBytes }));

    [Fact]
    public void WorkloadType_IsRequired() =>
        Assert.Equal("workload type is required", DeployRequestValidator.RejectionMessage(Valid() with { WorkloadType = "" }));

    [Theory]
    [InlineData(WorkloadTypes.Native, true)]
    [InlineData("NATIVE", true)]
    [InlineData(WorkloadTypes.Oci, true)]
    [InlineData(WorkloadTypes.V8, false)]
    [InlineData(WorkloadTypes.Wasm, false)]
    public void Essential_OnlyForNativeAndOci(string type, bool allowed)
    {
        var message = DeployRequestValidator.RejectionMessage(Valid(type) with { Essential = true });
        if (allowed)
        {
            Assert.Null(message);
        }
        else
        {
            Assert.Equal("essential flag is not supported for workload type", message);
        }
    }

    [Fact]
    public void Essential_WithoutAType_IsAlsoRejected() =>
        Assert.Equal(
            "essential flag is not supported for workload type\nworkload type is required",
            DeployRequestValidator.RejectionMessage(Valid() with { WorkloadType = "", Essential = true }));

    [Theory]
    [InlineData(WorkloadTypes.V8)]
    [InlineData(WorkloadTypes.Wasm)]
    [InlineData("WASM")]
    public void Functions_NeedATriggerSubject(string type)
    {
        const string Expected = "at least one trigger subject is required for this workload type";
        Assert.Equal(Expected, DeployRequestValidator.RejectionMessage(Valid(WorkloadTypes.V8) with { WorkloadType = type, TriggerSubjects = null }));
        Assert.Equal(Expected, DeployRequestValidator.RejectionMessage(Valid(WorkloadTypes.V8) with { WorkloadType = type, TriggerSubjects = [] }));
    }

    [Fact]
    public void Native_DoesNotNeedTriggerSubjects() =>
        Assert.Null(DeployRequestValidator.RejectionMessage(Valid() with { TriggerSubjects = [] }));
}
