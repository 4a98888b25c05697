namespace Nex.Client;
