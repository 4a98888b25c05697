namespace Nex.Protocol;
