using System.Diagnostics;
using Nex.Protocol;

namespace Nex.Node.Machines;

/// <summary>
/// Hands an agent its NATS seed on its standard input, read once at start (the agent's
/// <c>NEX_NODE_NATS_NKEY_SEED_FROM=stdin</c>): not in its environment (readable in
/// <c>/proc/&lt;pid&gt;/environ</c> by a workload of the same user) nor in a file a workload could open.
/// The workload gets a stdin of its own, so it never sees this pipe.
/// </summary>
internal static class SeedHandover
{
    /// <summary>Prepares a start: stdin becomes a pipe from the node, and the agent is told to read it.</summary>
    /// <param name="info">The agent's (or its wrapper's) start info.</param>
    /// <param name="setEnvironment">Whether to set the variable in <paramref name="info"/>'s environment
    /// (false when a wrapper such as bwrap passes the agent a cleared environment of its own).</param>
    public static void Prepare(ProcessStartInfo info, bool setEnvironment = true)
    {
        info.RedirectStandardInput = true;
        info.StandardInputEncoding = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false);
        if (setEnvironment)
        {
            info.Environment[AgentEnvironment.NatsSeedSource] = AgentEnvironment.SeedFromStdin;
        }
    }

    /// <summary>Writes the seed and closes the pipe. An agent that died at once is noticed by its exit, not here.</summary>
    /// <param name="process">The started process.</param>
    /// <param name="seed">The seed.</param>
    public static async Task WriteAsync(Process process, string seed)
    {
        try
        {
            await process.StandardInput.WriteAsync((seed + "\n").AsMemory()).ConfigureAwait(false);
            await process.StandardInput.FlushAsync().ConfigureAwait(false);
        }
        catch (IOException)
        {
            // EPIPE: the agent is already gone; its exit reports why.
        }
        finally
        {
            try
            {
                process.StandardInput.Close();
            }
            catch (IOException)
            {
            }
        }
    }
}
