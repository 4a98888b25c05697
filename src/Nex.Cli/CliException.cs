namespace Nex.Cli;

/// <summary>A user error: printed as one line, exit code 1.</summary>
internal sealed class CliException(string message) : Exception(message);
