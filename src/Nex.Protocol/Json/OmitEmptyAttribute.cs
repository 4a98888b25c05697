namespace Nex.Protocol;

/// <summary>
/// Marks a property as Go <c>omitempty</c>: when serialized through <see cref="NexJson"/> the property is
/// left out if it holds its zero value (<see langword="null"/>, <c>""</c>, <c>0</c>, <see langword="false"/>,
/// an empty map or list, or an undefined <see cref="System.Text.Json.JsonElement"/>).
/// </summary>
/// <remarks>
/// Properties that mirror Go <em>pointer</em> fields with <c>omitempty</c> (left out only when nil) use
/// <c>[JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]</c> instead. Properties with neither
/// attribute are always written, matching Go fields without <c>omitempty</c>.
/// The attribute has no effect on its own; it is honoured by <see cref="NexJson.OmitEmptyModifier"/>.
/// </remarks>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false, Inherited = true)]
public sealed class OmitEmptyAttribute : Attribute;
