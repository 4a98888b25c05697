using NATS.NKeys;
using Nex.Security;

namespace Nex.Node.Identity;

/// <summary>
/// The node's keys: a server nkey (its public key, <c>N…</c>, is the node id) and a curve xkey
/// that deploy requests encrypt their environment to. Fresh at every start, as in 0.2, unless
/// seed files are given; a missing seed file is created so the identity is stable from then on.
/// </summary>
internal sealed class NodeIdentity
{
    private NodeIdentity(KeyPair server, KeyPair xkey)
    {
        ServerKey = server;
        XKey = xkey;
        NodeId = server.GetPublicKey();
        PublicXKey = xkey.GetPublicKey();
    }

    public KeyPair ServerKey { get; }

    public KeyPair XKey { get; }

    public string NodeId { get; }

    public string PublicXKey { get; }

    public static NodeIdentity Create(string? serverSeedFile, string? xkeySeedFile)
    {
        var server = serverSeedFile is null ? NexKeys.CreateServer() : NexKeys.LoadOrCreateSeedFile(serverSeedFile, NexKeys.CreateServer);
        var xkey = xkeySeedFile is null ? NexKeys.CreateCurve() : NexKeys.LoadOrCreateSeedFile(xkeySeedFile, NexKeys.CreateCurve);
        if (!NexKeys.IsValidPublicKey(server.GetPublicKey(), 'N'))
        {
            throw new NodeStartException($"the node seed in {serverSeedFile} is not a server seed (SN…)");
        }

        if (!NexKeys.IsValidPublicKey(xkey.GetPublicKey(), 'X'))
        {
            throw new NodeStartException($"the xkey seed in {xkeySeedFile} is not a curve seed (SX…)");
        }

        return new NodeIdentity(server, xkey);
    }
}
