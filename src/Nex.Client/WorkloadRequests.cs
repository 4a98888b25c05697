using System.Diagnostics;
using NATS.NKeys;
using Nex.Protocol;
using Nex.Security;

namespace Nex.Client;

/// <summary>
/// Builds signed DEPLOY and STOP requests the way the 0.2 CLI does (spec §1.8, §1.9, §2).
/// </summary>
public static class WorkloadRequests
{
    // Timers may wake a little early: wait a bit past the second boundary, and re-check.
    private const int MaxWaits = 3;
    private static readonly TimeSpan WakeMargin = TimeSpan.FromMilliseconds(5);

    // Per clock: the last whole Unix second in which this process issued a deploy JWT.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TimeProvider, StrongBox> LastDeploySecond = [];

    // Per clock and name: the last second of a stop JWT issued here. Two stops of one name in one second would
    // carry the same jti (it hashes the claims), and a node refuses a jti that already stopped something;
    // stops of different names differ in their sub, so they need not wait for each other.
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<TimeProvider, System.Collections.Concurrent.ConcurrentDictionary<string, long>> LastStopSecond = [];

    /// <summary>
    /// Builds a DEPLOY request: a workload JWT (<c>sub</c> = <see cref="DeploySpec.Name"/>, <c>nats.hash</c> =
    /// <see cref="DeploySpec.Hash"/> or <see cref="WorkloadJwt.PlaceholderHash"/>) signed by <paramref name="issuer"/>,
    /// and the environment sealed from <paramref name="senderXkey"/> to <paramref name="nodeXkey"/>.
    /// </summary>
    /// <param name="spec">What to deploy.</param>
    /// <param name="nodeId">The target node's id (<c>target_node</c>).</param>
    /// <param name="nodeXkey">The node's public XKey (INFO <c>public_xkey</c>), the recipient of the environment.</param>
    /// <param name="issuer">The signing key (an account key in the CLI); only it can stop the workload later.</param>
    /// <param name="senderXkey">The sender's curve key pair (with seed).</param>
    /// <param name="time">Clock for <c>iat</c>; the system clock when null.</param>
    /// <returns>The request, ready for <see cref="NexClient.DeployAsync"/>.</returns>
    /// <exception cref="NexSecurityException">A key cannot sign or seal (wrong key type, no seed, bad node xkey).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><see cref="DeploySpec.FunctionTimeoutMs"/> is zero or negative.</exception>
    /// <exception cref="ArgumentException"><see cref="DeploySpec.ReuseContext"/> for a type other than v8.</exception>
    public static DeployRequest BuildDeploy(DeploySpec spec, string nodeId, string nodeXkey, KeyPair issuer, KeyPair senderXkey, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentException.ThrowIfNullOrEmpty(nodeXkey);
        ArgumentNullException.ThrowIfNull(spec.Location);
        ArgumentException.ThrowIfNullOrEmpty(spec.Name);
        ArgumentException.ThrowIfNullOrEmpty(spec.Type);
        ArgumentNullException.ThrowIfNull(issuer);
        ArgumentNullException.ThrowIfNull(senderXkey);
        if (spec.FunctionTimeoutMs is { } timeoutMs)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(timeoutMs, nameof(spec.FunctionTimeoutMs));
        }

        if (spec.ReuseContext && FunctionContexts.Problem(FunctionContexts.Reuse, spec.Type) is { } contextProblem)
        {
            throw new ArgumentException(contextProblem, nameof(spec));
        }

        var now = (time ?? TimeProvider.System).GetUtcNow();
        var jwt = WorkloadJwt.Issue(issuer, spec.Name, spec.Hash ?? WorkloadJwt.PlaceholderHash, now);
        var environment = EnvironmentCipher.Encrypt(spec.Environment, senderXkey, nodeXkey);
        RecordDeploySecond(time ?? TimeProvider.System, now.ToUnixTimeSeconds());

        return new DeployRequest
        {
            Argv = spec.Argv is { Count: > 0 } argv ? [.. argv] : null,
            Description = spec.Description ?? string.Empty,
            Type = spec.Type,
            Location = spec.Location,
            Essential = spec.Essential,
            WorkloadJwt = jwt,
            Environment = environment,
            JsDomain = spec.JsDomain ?? string.Empty,
            SenderPublicKey = senderXkey.GetPublicKey(),
            TargetNode = nodeId,
            TriggerSubjects = spec.Triggers is { Count: > 0 } triggers ? [.. triggers] : null,
            HostServices = spec.HostServices,
            FunctionTimeoutMs = spec.FunctionTimeoutMs,
            TriggerQueueGroup = string.IsNullOrEmpty(spec.TriggerQueueGroup) ? null : spec.TriggerQueueGroup,
            FunctionContext = spec.ReuseContext ? FunctionContexts.Reuse : null,
        };
    }

    /// <summary>
    /// Builds a STOP request with a fresh JWT (<c>sub</c> = <paramref name="name"/>, no hash claim) signed by
    /// <paramref name="issuer"/>, which must be the key that deployed the workload.
    /// </summary>
    /// <remarks>
    /// The node rejects a stop JWT whose <c>iat</c> (whole seconds) equals the deploy JWT's (spec §2.4). A
    /// deploy this stop targets was issued either earlier in this process (its second is remembered by
    /// <see cref="BuildDeploy"/>) or before this process started (e.g. <c>nex devrun</c> followed at once by
    /// <c>nex stop</c>). So when the system clock is still in the second of the last deploy issued here, or
    /// in the second this process started, or in the second of the last stop of this name issued here (two stops of one
    /// name in one second would share a <c>jti</c>, and a node spends each <c>jti</c> once), this method
    /// <b>blocks until the next whole second</b> (at most about one second) before issuing; <see cref="BuildStopAsync"/> waits without blocking. With another
    /// <see cref="TimeProvider"/> nothing waits: the <c>iat</c> is set to the second after the last deploy
    /// issued with that clock.
    /// </remarks>
    /// <param name="nodeId">The node running the workload (<c>target_node</c>).</param>
    /// <param name="workloadId">The workload id returned by DEPLOY.</param>
    /// <param name="name">The workload name (the deploy JWT's <c>sub</c>).</param>
    /// <param name="issuer">The key that signed the deploy.</param>
    /// <param name="time">Clock for <c>iat</c>; the system clock when null.</param>
    /// <returns>The request, ready for <see cref="NexClient.StopAsync"/>.</returns>
    /// <exception cref="NexSecurityException">The key cannot sign.</exception>
    public static StopRequest BuildStop(string nodeId, string workloadId, string name, KeyPair issuer, TimeProvider? time = null)
    {
        ValidateStop(nodeId, workloadId, name, issuer);
        var clock = time ?? TimeProvider.System;
        for (var attempt = 0; attempt < MaxWaits && StopDelay(clock, name) is { Ticks: > 0 } wait; attempt++)
        {
            Thread.Sleep(wait + WakeMargin);
        }

        return IssueStop(nodeId, workloadId, name, issuer, clock);
    }

    /// <summary>
    /// Like <see cref="BuildStop"/>, but waits for the next whole second (when needed) without blocking a thread.
    /// </summary>
    /// <param name="nodeId">The node running the workload (<c>target_node</c>).</param>
    /// <param name="workloadId">The workload id returned by DEPLOY.</param>
    /// <param name="name">The workload name (the deploy JWT's <c>sub</c>).</param>
    /// <param name="issuer">The key that signed the deploy.</param>
    /// <param name="time">Clock for <c>iat</c> (only the system clock is waited for); the system clock when null.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The request.</returns>
    /// <exception cref="NexSecurityException">The key cannot sign.</exception>
    public static async Task<StopRequest> BuildStopAsync(string nodeId, string workloadId, string name, KeyPair issuer, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ValidateStop(nodeId, workloadId, name, issuer);
        var clock = time ?? TimeProvider.System;
        for (var attempt = 0; attempt < MaxWaits && StopDelay(clock, name) is { Ticks: > 0 } wait; attempt++)
        {
            await Task.Delay(wait + WakeMargin, cancellationToken).ConfigureAwait(false);
        }

        return IssueStop(nodeId, workloadId, name, issuer, clock);
    }

    private static void ValidateStop(string nodeId, string workloadId, string name, KeyPair issuer)
    {
        ArgumentException.ThrowIfNullOrEmpty(nodeId);
        ArgumentException.ThrowIfNullOrEmpty(workloadId);
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(issuer);
    }

    private static StopRequest IssueStop(string nodeId, string workloadId, string name, KeyPair issuer, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        var earliest = StopNotBeforeSecond(clock, name);
        if (now.ToUnixTimeSeconds() < earliest)
        {
            now = DateTimeOffset.FromUnixTimeSeconds(earliest);
        }

        LastStopSecond.GetValue(clock, static _ => new(StringComparer.Ordinal))
            .AddOrUpdate(name, now.ToUnixTimeSeconds(), (_, last) => Math.Max(last, now.ToUnixTimeSeconds()));

        return new StopRequest
        {
            WorkloadId = workloadId,
            WorkloadJwt = WorkloadJwt.Issue(issuer, name, hash: null, now),
            TargetNode = nodeId,
        };
    }

    /// <summary>
    /// How long to wait before the clock reaches <see cref="StopNotBeforeSecond"/>. Only the system clock
    /// is waited for; with another clock (a test's) the <c>iat</c> is simply moved to that second.
    /// </summary>
    private static TimeSpan StopDelay(TimeProvider clock, string name)
    {
        if (!ReferenceEquals(clock, TimeProvider.System))
        {
            return TimeSpan.Zero;
        }

        var earliest = StopNotBeforeSecond(clock, name);
        var now = clock.GetUtcNow();
        if (now.ToUnixTimeSeconds() >= earliest)
        {
            return TimeSpan.Zero;
        }

        var delay = DateTimeOffset.FromUnixTimeSeconds(earliest) - now;
        return delay > TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : delay;
    }

    /// <summary>The first whole second a stop JWT may carry: one after the last deploy and the last stop of
    /// <paramref name="name"/> issued here, and, with the system clock, one after this process started.</summary>
    private static long StopNotBeforeSecond(TimeProvider clock, string name)
    {
        var lastStop = LastStopSecond.TryGetValue(clock, out var stops) && stops.TryGetValue(name, out var second) ? second : 0;
        var reference = Math.Max(Last(LastDeploySecond, clock), lastStop);
        if (ReferenceEquals(clock, TimeProvider.System))
        {
            reference = Math.Max(reference, ProcessStart.Second);
        }

        return reference == 0 ? 0 : reference + 1;
    }

    private static long Last(System.Runtime.CompilerServices.ConditionalWeakTable<TimeProvider, StrongBox> table, TimeProvider clock) =>
        table.TryGetValue(clock, out var box) ? Interlocked.Read(ref box.Value) : 0;

    private static void RecordDeploySecond(TimeProvider clock, long second) => Record(LastDeploySecond, clock, second);

    private static void Record(System.Runtime.CompilerServices.ConditionalWeakTable<TimeProvider, StrongBox> table, TimeProvider clock, long second)
    {
        var box = table.GetValue(clock, static _ => new StrongBox());
        long current;
        do
        {
            current = Interlocked.Read(ref box.Value);
            if (second <= current)
            {
                return;
            }
        }
        while (Interlocked.CompareExchange(ref box.Value, second, current) != current);
    }

    private sealed class StrongBox
    {
        public long Value;
    }

    private static class ProcessStart
    {
        public static readonly long Second = Read();

        private static long Read()
        {
            try
            {
                using var process = Process.GetCurrentProcess();
                return new DateTimeOffset(process.StartTime.ToUniversalTime(), TimeSpan.Zero).ToUnixTimeSeconds();
            }
            catch (Exception ex) when (ex is InvalidOperationException or NotSupportedException or System.ComponentModel.Win32Exception)
            {
                // Unknown start time: the first use is the best bound we have.
                return DateTimeOffset.UtcNow.ToUnixTimeSeconds();
            }
        }
    }
}
