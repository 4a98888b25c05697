namespace Nex.Bench;

/// <summary>How big a hardening campaign is (bench/run --campaign). <see cref="Quick"/> is the same campaign, smaller.</summary>
internal sealed record CampaignSettings
{
    public static CampaignSettings Full { get; } = new();

    public static CampaignSettings Quick { get; } = new()
    {
        IsQuick = true,
        Cycles = 100,
        CorpusScale = 0,
        RecoverySeconds = 20,
    };

    /// <summary>
    /// A tiny run for the smoke test (under a minute on a loaded 2-core machine): 150 malformed requests and a
    /// 12-cycle soak. Isolation and survival take a minute or more by themselves (node starts, recovery windows),
    /// so only the real campaign runs them.
    /// </summary>
    public static CampaignSettings Smoke { get; } = Quick with { Cycles = 12, RecoverySeconds = 10, MaxMalformed = 150, Sections = ["malformed", "soak"] };

    public bool IsQuick { get; init; }

    /// <summary>Deploy/stop cycles of the soak.</summary>
    public int Cycles { get; init; } = 1500;

    /// <summary>0: one value of each kind per field and the short list of bodies; 1: every generated value.</summary>
    public int CorpusScale { get; init; } = 1;

    /// <summary>At most this many malformed requests (null: the whole corpus).</summary>
    public int? MaxMalformed { get; init; }

    /// <summary>How long the survival section waits for a workload to come back after a kill -9.</summary>
    public double RecoverySeconds { get; init; } = 60;

    /// <summary>How long a malformed control request waits for its reply before it counts as "no reply".</summary>
    public TimeSpan ReplyTimeout { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>A DEPLOY may fetch an artifact and take an agent: it gets longer.</summary>
    public TimeSpan DeployReplyTimeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Malformed requests in flight at once.</summary>
    public int Concurrency { get; init; } = 8;

    /// <summary>Sections to run (null: all): malformed, isolation, survival, soak.</summary>
    public IReadOnlyList<string>? Sections { get; init; }

    public bool Runs(string section) => Sections is null || Sections.Contains(section, StringComparer.OrdinalIgnoreCase);
}

/// <summary>What a malformed control request got back.</summary>
internal enum ReplyCategory
{
    /// <summary>An error envelope with one line in our words.</summary>
    ClearError,

    /// <summary>An error that leaks .NET text (type names, stack text, "internal error"), spans lines, or is not an envelope.</summary>
    LeakyError,

    /// <summary>Nothing within the timeout.</summary>
    NoReply,

    /// <summary>Nobody subscribes to the subject (NATS "no responders"): the node never saw it.</summary>
    NoResponders,

    /// <summary>A success envelope.</summary>
    Accepted,
}

/// <summary>The whole campaign's figures (the JSON of --json / --out).</summary>
internal sealed class CampaignReport
{
    public DateTimeOffset Started { get; set; }

    public double DurationSeconds { get; set; }

    public required CampaignSettings Settings { get; init; }

    public MalformedResult? Malformed { get; set; }

    public List<IsolationAttempt> Isolation { get; } = [];

    public List<SurvivalResult> Survival { get; } = [];

    public SoakResult? Soak { get; set; }

    /// <summary>Steps that could not run, one line each.</summary>
    public List<string> Errors { get; } = [];
}

internal sealed class MalformedResult
{
    public int Total { get; set; }

    /// <summary>Counts by <see cref="ReplyCategory"/> (snake_case names).</summary>
    public SortedDictionary<string, int> ByCategory { get; } = [];

    /// <summary>Per control subject kind (DEPLOY, STOP, …): counts by category.</summary>
    public SortedDictionary<string, SortedDictionary<string, int>> BySubject { get; } = [];

    /// <summary>Batches after which the node's PING did not answer.</summary>
    public int PingFailuresAfterBatch { get; set; }

    public int Batches { get; set; }

    /// <summary>Connections of the node (named <c>nex-node…</c>) the server closed during the section, from its monitor.</summary>
    public int NodeConnectionsClosed { get; set; }

    public List<string> CloseReasons { get; } = [];

    /// <summary>Leaky errors by why they count as leaky.</summary>
    public SortedDictionary<string, int> LeakReasons { get; } = [];

    /// <summary>Leaky error texts (up to 3 per reason), with the request that got each.</summary>
    public List<string> LeakyExamples { get; } = [];

    /// <summary>Requests that got no reply (first 15).</summary>
    public List<string> NoReplyExamples { get; } = [];

    /// <summary>Malformed DEPLOYs the node accepted (first 25).</summary>
    public List<string> AcceptedDeployExamples { get; } = [];
}

/// <summary>One isolation attempt: refused by the node (or its policy), or allowed.</summary>
internal sealed record IsolationAttempt(string Group, string Attempt, string Outcome, string Detail)
{
    public const string Refused = "refused";
    public const string Allowed = "allowed";
    public const string Skipped = "skipped";
    public const string Unknown = "unknown";
}

/// <summary>A kill -9 and what followed.</summary>
internal sealed class SurvivalResult
{
    public required string Killed { get; init; }

    public int? KilledPid { get; set; }

    /// <summary>Processes under the killed one (its workload) just before the kill.</summary>
    public int ProcessesUnderKilled { get; set; }

    /// <summary>Of those, still alive at the end of the window: orphans nobody supervises.</summary>
    public int OrphansAfterWindow { get; set; }

    public double? FunctionBackSeconds { get; set; }

    public double? ServiceBackSeconds { get; set; }

    /// <summary>Whether the function / the service failed to answer at least once after the kill.</summary>
    public bool FunctionWentDown { get; set; }

    public bool ServiceWentDown { get; set; }

    /// <summary>Seconds until PING or INFO carried an unhealthy mark (null: never within the window, or no such field).</summary>
    public double? UnhealthySeconds { get; set; }

    /// <summary>Whether PING/INFO carry a health field at all (<c>unhealthy</c>/<c>healthy</c> at the node level).</summary>
    public bool HealthFieldPresent { get; set; }

    public double WindowSeconds { get; set; }

    public int? PingRunningMachines { get; set; }

    public int? InfoMachines { get; set; }

    /// <summary>Agent processes alive when PING/INFO were read at the end.</summary>
    public int LiveAgents { get; set; }

    /// <summary>Live agents that run a workload (a machine that is really there).</summary>
    public int LiveBusyAgents { get; set; }

    /// <summary>PING or INFO listed more machines than there are busy agents.</summary>
    public bool ListsGoneMachines { get; set; }

    /// <summary>The answer to a deploy sent after the window.</summary>
    public string DeployAfter { get; set; } = "";

    public bool NodeAlive { get; set; }
}

internal sealed record RssSample(int Cycle, double NodeRssMiB, double InternalNatsRssMiB, int Agents);

internal sealed class SoakResult
{
    public int Cycles { get; set; }

    public int DeployFailures { get; set; }

    public int StopFailures { get; set; }

    public List<string> FailureExamples { get; } = [];

    public double Seconds { get; set; }

    public List<RssSample> Curve { get; } = [];

    /// <summary>workload-* files in the node's TMPDIR while two native workloads ran (shows the count is meaningful).</summary>
    public int WorkloadFilesWhileRunning { get; set; }

    public int WorkloadFilesAfterAgentKill { get; set; }

    public int WorkloadFilesAfterNodeKill { get; set; }

    /// <summary>After a new node started on the same TMPDIR.</summary>
    public int WorkloadFilesAfterRestart { get; set; }

    /// <summary>The node's descendants still alive 2 s after the node's kill -9 (ended by the campaign).</summary>
    public int OrphansAfterNodeKill { get; set; }
}
