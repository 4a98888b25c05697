using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using NATS.Client.Core;
using Nex.Nats;
using Nex.Node.Fleet;
using Nex.Protocol;
using Nex.Testing;
using Xunit;
using static Nex.Node.Tests.Fleet.DesiredStateTestKit;

namespace Nex.Node.Tests.Fleet;

/// <summary>
/// The drain loop on a fake clock (issue 17 item 5), against the real <c>NEX_DESIRED</c> bucket of the test server
/// and a fake set of workloads: what it releases, when it ends a copy, what it stops, and that it asks to exit.
/// </summary>
public sealed class DrainTests(NatsServerFixture nats)
{
    private const string Self = "NSELFNODE";
    private const string Other = "NOTHERNODE";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task NobodyClaims_AtTheDeadlineTheWorkloadsStop_RecordsStayReleased_AndExitIsRequested()
    {
        await using var kit = await Kit.StartAsync(nats.Url);
        var a = await kit.RunRecordedAsync("a");
        var b = await kit.RunRecordedAsync("b");
        var drain = kit.Start(Deadline);

        await kit.WaitReleasedAsync(a.Key);
        await kit.WaitReleasedAsync(b.Key);
        kit.Time.Advance(Deadline / 2);
        Assert.Empty(kit.Workloads.Ended); // half way: still waiting for a taker
        Assert.False(kit.StopRequested.IsCompleted);

        var result = await kit.AdvanceUntilAsync(drain, Deadline);

        Assert.Equal(new Drain.Result(0, 2, TimedOut: true), result);
        Assert.Equal(["a:stopped", "b:stopped"], kit.Workloads.Ended.Order(StringComparer.Ordinal));
        Assert.True(kit.StopRequested.IsCompleted);
        Assert.Equal(new NodeDrainedEvent { NodeId = Self, Moved = 0, Stopped = 2, TimedOut = true }, Assert.Single(kit.Published));
        foreach (var key in new[] { a.Key, b.Key })
        {
            var record = (await ReadAsync(kit.Watcher, key)).Record!;
            Assert.True(record.Handoff); // any node may take it later, this one after a restart too
            Assert.Equal(Self, record.NodeId);
        }
    }

    [Fact]
    public async Task ClaimByAnotherNode_EndsTheCopyAsMoved_OnceTheTakersCopyIsRecorded_AndTheRecordStaysItsOwn()
    {
        await using var kit = await Kit.StartAsync(nats.Url);
        var a = await kit.RunRecordedAsync("a");
        var drain = kit.Start(Deadline);
        var released = await kit.WaitReleasedAsync(a.Key);

        // The taker's claim (CAS at the released revision), before its copy runs: this copy keeps running.
        var claim = released.Workload with { NodeId = Other, Handoff = false };
        var claimed = await kit.Store.TryClaimAsync(a.Key, released.Revision, claim, Ct);
        Assert.NotNull(claimed);
        for (var i = 0; i < 4; i++)
        {
            await kit.TickAsync();
        }

        Assert.Empty(kit.Workloads.Ended); // make-before-break

        // The taker's copy started and recorded its id: this copy ends within a tick, as moved.
        Assert.NotNull(await kit.Store.TryClaimAsync(a.Key, claimed.Value, claim with { WorkloadId = "NEWCOPY" }, Ct));
        var result = await kit.AdvanceUntilAsync(drain, Drain.Tick * 8);

        Assert.Equal(new Drain.Result(1, 0, TimedOut: false), result);
        Assert.Equal(["a:moved"], kit.Workloads.Ended);
        Assert.True(kit.StopRequested.IsCompleted);
        var record = (await ReadAsync(kit.Watcher, a.Key)).Record!;
        Assert.Equal(Other, record.NodeId);
        Assert.Equal("NEWCOPY", record.WorkloadId);
        Assert.False(record.Handoff);
    }

    [Fact]
    public async Task WithoutJetStream_EverythingStopsAtOnce_AndExitIsRequested()
    {
        await using var kit = await Kit.StartAsync(nats.Url, DesiredStateStore.Unusable("no JetStream on the main NATS", NullLogger.Instance));
        kit.Workloads.Run("a", "ns.A1");
        kit.Workloads.Run("b", key: null);

        // No clock advance: nothing can move, so nothing waits.
        var result = await kit.Start(Deadline).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(new Drain.Result(0, 2, TimedOut: false), result);
        Assert.Equal(["a:stopped", "b:stopped"], kit.Workloads.Ended.Order(StringComparer.Ordinal));
        Assert.True(kit.StopRequested.IsCompleted);
    }

    [Fact]
    public async Task WorkloadWithoutRecord_StopsAtOnce_WhileARecordedOneWaits()
    {
        await using var kit = await Kit.StartAsync(nats.Url);
        kit.Workloads.Run("autostarted", key: null);
        var a = await kit.RunRecordedAsync("a");
        var drain = kit.Start(Deadline);

        await kit.Workloads.WaitEndedAsync("autostarted:stopped");
        await kit.WaitReleasedAsync(a.Key);
        Assert.Single(kit.Workloads.Ended);
        Assert.False(drain.IsCompleted);
        await kit.AdvanceUntilAsync(drain, Deadline);
    }

    [Fact]
    public async Task ZeroTimeout_ReleasesTheRecords_AndStopsAtOnce()
    {
        await using var kit = await Kit.StartAsync(nats.Url);
        var a = await kit.RunRecordedAsync("a");

        var result = await kit.Start(TimeSpan.Zero).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        Assert.Equal(new Drain.Result(0, 1, TimedOut: true), result);
        Assert.True((await ReadAsync(kit.Watcher, a.Key)).Record!.Handoff);
        Assert.True(kit.StopRequested.IsCompleted);
    }

    [Fact]
    public async Task WorkloadThatEndsWhileWaiting_IsDone_WithoutWaitingForTheDeadline()
    {
        await using var kit = await Kit.StartAsync(nats.Url);
        var a = await kit.RunRecordedAsync("a");
        var drain = kit.Start(Deadline);
        await kit.WaitReleasedAsync(a.Key);

        // A STOP: the workload ends and its record goes.
        kit.Workloads.EndByItself("a");
        await kit.Workloads.ForgetAsyncCore(a.Key);
        var result = await kit.AdvanceUntilAsync(drain, Drain.Tick * 8);

        Assert.Equal(new Drain.Result(0, 0, TimedOut: false), result);
        Assert.Null((await ReadAsync(kit.Watcher, a.Key)).Record);
    }

    /// <summary>A drain's surroundings: the bucket, a fake clock, fake workloads, what it published.</summary>
    private sealed class Kit : IAsyncDisposable
    {
        private readonly TaskCompletionSource _stop = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly string _ns = "drain" + Guid.NewGuid().ToString("N")[..8];

        private Kit(NatsConnection watcher, DesiredStateStore store)
        {
            Watcher = watcher;
            Store = store;
            Workloads = new FakeWorkloads(store);
        }

        public NatsConnection Watcher { get; }

        public DesiredStateStore Store { get; }

        public FakeTimeProvider Time { get; } = new(new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero));

        public FakeWorkloads Workloads { get; }

        public ConcurrentQueue<NodeDrainedEvent> Published { get; } = new();

        public Task StopRequested => _stop.Task;

        public static async Task<Kit> StartAsync(string url, DesiredStateStore? store = null)
        {
            var watcher = await NexConnection.ConnectAsync(new NexConnectionOptions { Server = url }, Ct);
            return new Kit(watcher, store ?? await DesiredStateStore.OpenAsync(watcher, NullLogger.Instance, Ct));
        }

        /// <summary>A running workload with a record this node holds.</summary>
        public async Task<DesiredEntry> RunRecordedAsync(string id)
        {
            var key = DesiredState.Key(_ns, id);
            var record = new DesiredWorkload { Namespace = _ns, Name = id, NodeId = Self, WorkloadId = id, CreatedAt = Time.GetUtcNow(), UpdatedAt = Time.GetUtcNow() };
            var revision = await Store.PutAsync(key, record, Ct) ?? throw new InvalidOperationException("record not written");
            var entry = new DesiredEntry(key, record, revision);
            Workloads.Run(id, key);
            Workloads.Adopt(entry);
            return entry;
        }

        public Task<Drain.Result> Start(TimeSpan timeout)
        {
            var drain = new Drain(
                Store,
                Workloads,
                Self,
                Time,
                timeout,
                (drained, _) =>
                {
                    Published.Enqueue(drained);
                    return Task.CompletedTask;
                },
                () => _stop.TrySetResult(),
                NullLogger.Instance);
            return Task.Run(() => drain.RunAsync(Ct));
        }

        /// <summary>Waits (real time) until the record under <paramref name="key"/> is released by the drain.</summary>
        public async Task<DesiredEntry> WaitReleasedAsync(string key)
        {
            DesiredEntry? entry = null;
            await WaitUntilAsync(async () => (entry = await Store.GetAsync(key, Ct)) is { Workload.Handoff: true }, "the record released");
            return entry!;
        }

        /// <summary>One drain tick on the fake clock, then a moment for the loop to read the bucket.</summary>
        public async Task TickAsync()
        {
            var reads = Workloads.Reads;
            Time.Advance(Drain.Tick);
            await WaitUntilAsync(() => Task.FromResult(Workloads.Reads > reads), "the drain's next check");
        }

        /// <summary>Advances the fake clock a tick at a time (at most <paramref name="upTo"/>) until the drain ends.</summary>
        public async Task<Drain.Result> AdvanceUntilAsync(Task<Drain.Result> drain, TimeSpan upTo)
        {
            for (var advanced = TimeSpan.Zero; advanced <= upTo + Drain.Tick; advanced += Drain.Tick)
            {
                Time.Advance(Drain.Tick);
                if (await Task.WhenAny(drain, Task.Delay(50, Ct)) == drain)
                {
                    return await drain;
                }
            }

            return await drain.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        }

        public async ValueTask DisposeAsync() => await Watcher.DisposeAsync();
    }

    /// <summary>Workloads as the drain sees them; records as the manager keeps them.</summary>
    private sealed class FakeWorkloads(DesiredStateStore store) : IDrainTarget
    {
        private readonly ConcurrentDictionary<string, string?> _running = new(StringComparer.Ordinal);
        private readonly ConcurrentDictionary<string, DesiredEntry> _records = new(StringComparer.Ordinal);
        private int _reads;

        public ConcurrentQueue<string> Ended { get; } = new();

        /// <summary>How often the drain looked at the workloads (each check does).</summary>
        public int Reads => Volatile.Read(ref _reads);

        public IReadOnlyList<DrainItem> DrainItems
        {
            get
            {
                Interlocked.Increment(ref _reads);
                return [.. _running.Select(w => new DrainItem(w.Key, w.Value))];
            }
        }

        public void Run(string id, string? key) => _running[id] = key;

        public void EndByItself(string id) => _running.TryRemove(id, out _);

        public DesiredEntry? RecordOf(string key) => _records.TryGetValue(key, out var entry) ? entry : null;

        public void Adopt(DesiredEntry entry) => _records[entry.Key] = entry;

        public Task ForgetAsync(string key) => ForgetAsyncCore(key);

        public async Task ForgetAsyncCore(string key)
        {
            if (_records.TryRemove(key, out var entry))
            {
                await store.RemoveAsync(key, entry.Revision, CancellationToken.None);
            }
        }

        public Task<bool> SupersedeAsync(string key)
        {
            _records.TryRemove(key, out _);
            var running = _running.FirstOrDefault(w => w.Value == key);
            if (running.Key is null || !_running.TryRemove(running.Key, out _))
            {
                return Task.FromResult(false);
            }

            Ended.Enqueue(running.Key + ":moved");
            return Task.FromResult(true);
        }

        public Task StopHereAsync(string workloadId)
        {
            if (_running.TryRemove(workloadId, out _))
            {
                Ended.Enqueue(workloadId + ":stopped");
            }

            return Task.CompletedTask;
        }

        public Task WaitEndedAsync(string what) => WaitUntilAsync(() => Task.FromResult(Ended.Contains(what)), what);
    }
}
