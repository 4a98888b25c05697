using Nex.Protocol;

namespace Nex.Client;

/// <summary>
/// The state behind <c>nex top</c>: the last reading (rates are deltas against it), the namespace filter, the sort
/// column and the namespaces seen so far. Pure: readings come in, views go out; not thread-safe (one UI loop owns it).
/// </summary>
public sealed class TopModel
{
    private static readonly TopSort[] SortOrder = [TopSort.CallsPerSecond, TopSort.Errors, TopSort.Memory, TopSort.Cpu, TopSort.Name];

    private readonly SortedSet<string> _namespaces = new(StringComparer.Ordinal);
    private TopSnapshot? _previous;
    private TopSnapshot? _current;
    private Dictionary<string, (double? Calls, double? Cpu)> _rates = new(StringComparer.Ordinal);

    /// <summary>Starts with a namespace filter (null or <c>*</c>: all) and a sort column.</summary>
    /// <param name="ns">The namespace shown first.</param>
    /// <param name="sort">The sort column first.</param>
    public TopModel(string? ns = null, TopSort sort = TopSort.CallsPerSecond)
    {
        Namespace = ns is null or "*" ? null : ns;
        Sort = sort;
        _namespaces.Add("default"); // where nex puts workloads unless told otherwise
        if (Namespace is not null)
        {
            _namespaces.Add(Namespace);
        }
    }

    /// <summary>The namespace shown, or null for all.</summary>
    public string? Namespace { get; private set; }

    /// <summary>The sort column.</summary>
    public TopSort Sort { get; private set; }

    /// <summary>Every namespace seen: given, recorded, in a reading or in an event.</summary>
    public IReadOnlyCollection<string> Namespaces => _namespaces;

    /// <summary>The namespaces the next reading should ask INFO for: the one shown, or every one seen.</summary>
    public IReadOnlyCollection<string> QueryNamespaces => Namespace is { } ns ? [ns] : _namespaces;

    /// <summary>Notes a namespace seen elsewhere (an event, the desired state); the system namespace holds no workloads.</summary>
    /// <param name="ns">The namespace.</param>
    public void Observe(string ns)
    {
        if (!string.IsNullOrEmpty(ns) && ns is not ("*" or NexSubjects.SystemNamespace))
        {
            _namespaces.Add(ns);
        }
    }

    /// <summary>All, then each namespace seen in order, then all again.</summary>
    public void CycleNamespace()
    {
        var list = _namespaces.ToList();
        var at = Namespace is null ? -1 : list.IndexOf(Namespace);
        Namespace = at + 1 < list.Count ? list[at + 1] : null;
    }

    /// <summary>Calls/s, errors, memory, CPU, name, then calls/s again.</summary>
    public void CycleSort() => Sort = SortOrder[(Array.IndexOf(SortOrder, Sort) + 1) % SortOrder.Length];

    /// <summary>Takes a new reading: rates are computed against the previous one.</summary>
    /// <param name="snapshot">The reading.</param>
    /// <returns>The view of it.</returns>
    public TopView Update(TopSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        _previous = _current;
        _current = snapshot;
        foreach (var workload in snapshot.Workloads)
        {
            Observe(workload.Namespace);
        }

        _rates = ComputeRates(_previous, snapshot);
        return View();
    }

    /// <summary>The current reading under the current filter and sort (after a key press, without a new reading).</summary>
    /// <returns>The view; empty before the first reading.</returns>
    public TopView View()
    {
        var snapshot = _current ?? new TopSnapshot(DateTimeOffset.MinValue, [], [], []);
        var rows = snapshot.Workloads
            .Where(w => Namespace is null || string.Equals(w.Namespace, Namespace, StringComparison.OrdinalIgnoreCase))
            .Select(ToRow)
            .ToList();
        var sorted = SortRows(rows, Sort);
        var rates = sorted.Where(r => r.CallsPerSecond is not null).Select(r => r.CallsPerSecond!.Value).ToList();
        return new TopView
        {
            Time = snapshot.Time,
            Namespace = Namespace,
            Sort = SortName(Sort),
            Totals = new TopTotals { Nodes = snapshot.Nodes.Count, Workloads = sorted.Count, CallsPerSecond = rates.Count == 0 ? null : Math.Round(rates.Sum(), 2) },
            Nodes = snapshot.Nodes.Select(ToRow).ToList(),
            Workloads = sorted,
        };
    }

    /// <summary>The short name of a sort column, as the view and the header show it.</summary>
    /// <param name="sort">The column.</param>
    /// <returns><c>calls</c>, <c>errors</c>, <c>memory</c>, <c>cpu</c> or <c>name</c>.</returns>
    public static string SortName(TopSort sort) => sort switch
    {
        TopSort.CallsPerSecond => "calls",
        TopSort.Errors => "errors",
        TopSort.Memory => "memory",
        TopSort.Cpu => "cpu",
        _ => "name",
    };

    /// <summary>Sorts rows by <paramref name="sort"/>, numbers largest first and missing ones last; ties by name,
    /// namespace, node and id, so rows with equal values keep their place from one refresh to the next.</summary>
    /// <param name="rows">The rows.</param>
    /// <param name="sort">The column.</param>
    /// <returns>The sorted rows.</returns>
    public static IReadOnlyList<TopWorkloadRow> SortRows(IEnumerable<TopWorkloadRow> rows, TopSort sort)
    {
        Func<TopWorkloadRow, double?> key = sort switch
        {
            TopSort.CallsPerSecond => r => r.CallsPerSecond,
            TopSort.Errors => r => r.Errors,
            TopSort.Memory => r => r.MemoryBytes,
            TopSort.Cpu => r => r.CpuPercent,
            _ => _ => null,
        };
        return rows
            .OrderBy(r => key(r) is null ? 1 : 0)
            .ThenByDescending(r => key(r) ?? 0)
            .ThenBy(r => r.Name, StringComparer.Ordinal)
            .ThenBy(r => r.Namespace, StringComparer.Ordinal)
            .ThenBy(r => r.NodeName, StringComparer.Ordinal)
            .ThenBy(r => r.Id, StringComparer.Ordinal)
            .ToList();
    }

    // Per workload id: calls/s and CPU % between two readings.
    private static Dictionary<string, (double? Calls, double? Cpu)> ComputeRates(TopSnapshot? previous, TopSnapshot current)
    {
        var before = previous?.Workloads.DistinctBy(w => w.Machine.Id, StringComparer.Ordinal).ToDictionary(w => w.Machine.Id, w => w.Machine, StringComparer.Ordinal)
            ?? new Dictionary<string, MachineSummary>(StringComparer.Ordinal);
        var elapsed = previous is null ? 0 : (current.Time - previous.Time).TotalSeconds;
        var rates = new Dictionary<string, (double? Calls, double? Cpu)>(StringComparer.Ordinal);
        foreach (var machine in current.Workloads.Select(w => w.Machine))
        {
            before.TryGetValue(machine.Id, out var earlier);
            rates[machine.Id] = (CallRate(earlier?.Calls, machine.Calls, elapsed), CpuPercent(earlier?.Resources, machine.Resources, elapsed));
        }

        return rates;
    }

    /// <summary>
    /// The node's <c>per_second</c> (over its last 10 s) when it gives one; otherwise the change of <c>total</c> since the
    /// previous reading. A node that leaves <c>per_second</c> out reads as 0, so 0 while the total moved means "not given".
    /// </summary>
    /// <param name="before">The previous reading's stats, or null.</param>
    /// <param name="now">This reading's stats, or null (a service, or a node without them).</param>
    /// <param name="elapsedSeconds">Seconds between the readings.</param>
    /// <returns>Calls per second, or null when unknown.</returns>
    public static double? CallRate(CallStats? before, CallStats? now, double elapsedSeconds)
    {
        if (now is null)
        {
            return null;
        }

        var delta = before is null ? 0 : now.Total - before.Total;
        if (now.PerSecond > 0 || delta <= 0 || elapsedSeconds <= 0)
        {
            return Math.Round(now.PerSecond, 2);
        }

        return Math.Round(delta / elapsedSeconds, 2);
    }

    /// <summary>CPU time used between two readings over the time between them, in percent of one core.</summary>
    /// <param name="before">The previous reading's resources, or null.</param>
    /// <param name="now">This reading's, or null.</param>
    /// <param name="elapsedSeconds">Seconds between the readings.</param>
    /// <returns>The percentage, or null on a first reading, without figures, or when the CPU time went back (a restarted process).</returns>
    public static double? CpuPercent(MachineResources? before, MachineResources? now, double elapsedSeconds)
    {
        if (before is null || now is null || elapsedSeconds <= 0 || now.CpuSeconds < before.CpuSeconds)
        {
            return null;
        }

        return Math.Round((now.CpuSeconds - before.CpuSeconds) / elapsedSeconds * 100, 1);
    }

    private TopWorkloadRow ToRow(TopWorkload workload)
    {
        var m = workload.Machine;
        var (calls, cpu) = _rates.GetValueOrDefault(m.Id);
        var called = m.Calls is { Total: > 0 };
        return new TopWorkloadRow
        {
            Id = m.Id,
            Name = m.Workload.Name,
            Namespace = workload.Namespace,
            Type = m.Workload.Type,
            NodeId = workload.NodeId,
            NodeName = workload.NodeName,
            Uptime = m.Uptime,
            CallsPerSecond = calls,
            Calls = m.Calls?.Total,
            Errors = m.Calls?.Errors,
            P50Micros = called ? m.Calls!.P50Micros : null,
            P99Micros = called ? m.Calls!.P99Micros : null,
            HostServiceCalls = m.Calls?.HostServiceCalls,
            MemoryBytes = m.Resources?.MemoryBytes,
            MemoryLimitBytes = m.Resources?.MemoryLimitBytes,
            CpuSeconds = m.Resources?.CpuSeconds,
            CpuPercent = cpu,
            Restarts = m.RetryCount,
            Essential = m.Essential,
        };
    }

    private static TopNodeRow ToRow(TopNode node) => new()
    {
        Id = node.NodeId,
        Name = node.Name,
        Version = node.Ping.Version,
        Uptime = node.Ping.Uptime,
        Workloads = node.Ping.RunningMachines,
        MemoryUsedBytes = node.Info?.Memory is { } memory ? (memory.Total - memory.Available) * 1024 : null,
        MemoryTotalBytes = node.Info?.Memory is { } total ? total.Total * 1024 : null,
        LameDuck = node.LameDuck,
        Unhealthy = node.Ping.Unhealthy ?? node.Info?.Unhealthy,
        Problem = node.Problem,
    };
}
