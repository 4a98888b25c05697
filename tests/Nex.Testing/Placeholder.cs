namespace Nex.Testing;
