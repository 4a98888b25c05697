using Nex.Protocol;

namespace Nex.Client;

/// <summary>
/// What a client can check before it sends a deploy (or stops anything): the rules a node would refuse the
/// request for, and cheap sanity checks of the artifact. Each failure is one line saying what to change.
/// </summary>
public static class WorkloadPreflight
{
    /// <summary>A namespace a node accepts: one subject token, safe in bucket names (<see cref="SubjectToken.NamePattern"/>).</summary>
    /// <param name="ns">The namespace.</param>
    /// <exception cref="NexClientException">It is not one.</exception>
    public static void CheckNamespace(string ns)
    {
        ArgumentNullException.ThrowIfNull(ns);
        if (SubjectToken.NamespaceProblem(ns) is { } problem)
        {
            throw new NexClientException($"invalid --namespace: {problem}");
        }
    }

    /// <summary>
    /// Trigger subjects: valid NATS subjects (wildcards allowed), outside the reserved <c>$…</c> and
    /// <c>_INBOX.…</c> spaces, and not wildcards over the whole subject space (<c>&gt;</c>, <c>*.&gt;</c>, …).
    /// </summary>
    /// <param name="triggers">The subjects.</param>
    /// <exception cref="NexClientException">The first bad subject.</exception>
    public static void CheckTriggers(IEnumerable<string> triggers)
    {
        ArgumentNullException.ThrowIfNull(triggers);
        foreach (var trigger in triggers)
        {
            // The node's own rule, without its config: a node may allow a lone '*' (allow_wildcard_triggers).
            switch (ReservedSubjects.CheckTrigger(trigger, [], allowWildcards: true))
            {
                case TriggerSubjectProblem.Invalid:
                    throw new NexClientException($"invalid trigger subject '{SubjectToken.Shorten(trigger)}': use dot-separated tokens without spaces, at most {ReservedSubjects.MaxTriggerLength} characters, e.g. --trigger orders.created");
                case TriggerSubjectProblem.Denied when ReservedSubjects.IsReserved(trigger):
                    throw new NexClientException($"trigger subject '{trigger}' is in a reserved subject space ($… and _INBOX… belong to NATS and Nex); choose your own, e.g. --trigger orders.created");
                case TriggerSubjectProblem.Denied:
                    throw new NexClientException($"trigger subject '{trigger}' would capture every subject, system subjects included; give a literal first token, e.g. --trigger orders.>");
            }
        }
    }

    /// <summary>
    /// The artifact file exists, is not empty, and looks like <paramref name="type"/>: a WebAssembly binary or
    /// WAT text for <c>wasm</c>, UTF-8 text (not a binary) for <c>v8</c>, and not a WebAssembly module for
    /// <c>native</c>.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="type">The workload type it will be deployed as.</param>
    /// <exception cref="NexClientException">Why not.</exception>
    public static void CheckArtifact(string path, string type)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(type);
        if (Directory.Exists(path))
        {
            throw new NexClientException($"'{path}' is a directory, not a file");
        }

        if (!File.Exists(path))
        {
            throw new NexClientException($"file '{path}' not found");
        }

        byte[] head;
        try
        {
            using var file = File.OpenRead(path);
            head = new byte[4096];
            head = head[..file.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new NexClientException($"cannot read '{path}': {ex.Message}", ex);
        }

        if (head.Length == 0)
        {
            throw new NexClientException($"'{path}' is empty");
        }

        var isWasm = head.AsSpan().StartsWith("\0asm"u8);
        var isExecutable = NexClient.DetectPlatform(head) is not null || head.AsSpan().StartsWith("\u007fELF"u8);
        var name = Path.GetFileName(path);
        switch (type)
        {
            case WorkloadTypes.Wasm when !isWasm && !LooksLikeWat(head):
                throw new NexClientException($"'{name}' is not a WebAssembly module (no \\0asm header, not WAT text); {Suggest(path, isExecutable)}");
            case WorkloadTypes.V8 when isWasm || isExecutable || head.Contains((byte)0):
                throw new NexClientException($"'{name}' is a binary, not JavaScript; {Suggest(path, isExecutable, isWasm)}");
            case WorkloadTypes.Native when isWasm:
                throw new NexClientException($"'{name}' is a WebAssembly module, not a native executable; deploy it with --type wasm and a --trigger");
            case WorkloadTypes.Native when !isExecutable && !head.AsSpan().StartsWith("#!"u8) && NexClient.WorkloadTypeForFile(path) == WorkloadTypes.V8:
                throw new NexClientException($"'{name}' is JavaScript, not a native executable; deploy it with --type v8 and a --trigger");
        }
    }

    private static string Suggest(string path, bool isExecutable, bool isWasm = false) =>
        isWasm ? "deploy it with --type wasm"
        : isExecutable ? "deploy it with --type native"
        : NexClient.WorkloadTypeForFile(path) == WorkloadTypes.V8 ? "deploy JavaScript with --type v8"
        : "check the file, or the --type";

    // WAT text starts with "(module" or "(component" after whitespace and ";;" / "(; ;)" comments; a cheap look.
    private static bool LooksLikeWat(byte[] head)
    {
        var text = System.Text.Encoding.UTF8.GetString(head).TrimStart('\uFEFF');
        var lines = text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith(";;", StringComparison.Ordinal));
        return lines.FirstOrDefault() is { } first && first.StartsWith('(');
    }
}
