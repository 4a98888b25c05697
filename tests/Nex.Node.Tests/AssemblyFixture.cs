using Nex.Testing;
using Xunit;

[assembly: AssemblyFixture(typeof(NatsServerFixture))]
