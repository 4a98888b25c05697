using System.Text.Json.Serialization;
using Nex.Client;

namespace Nex.Cli.Commands;

/// <summary>Source-generated JSON for <c>nex top --json</c> (the field names are <see cref="TopView"/>'s).</summary>
[JsonSourceGenerationOptions(WriteIndented = true)]
[JsonSerializable(typeof(TopView))]
internal sealed partial class TopJsonContext : JsonSerializerContext;
