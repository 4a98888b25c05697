namespace Nex.Node;
