using System.Globalization;

namespace Nex.Node.HostServices;

/// <summary>One host-service reply: <c>x-nex-hs-code</c>, <c>x-nex-hs-msg</c> and the body (spec §6.2).
/// Failures carry their real message, not 0.2's <c>OK</c> (spec §11 #7).</summary>
/// <param name="Code">200, 400, 403 (refused by the node's policy), 404 or 500.</param>
/// <param name="Message"><c>OK</c> on success, else the reason.</param>
/// <param name="Body">Result bytes (empty on failure, except HTTP transport errors).</param>
internal sealed record HostServiceResponse(int Code, string Message, byte[] Body)
{
    public const int Success = 200;
    public const int BadRequest = 400;
    public const int Forbidden = 403;
    public const int NotFound = 404;
    public const int Failure = 500;

    /// <summary>The code as the decimal string sent in the reply header.</summary>
    public string CodeText => Code.ToString(CultureInfo.InvariantCulture);

    public bool IsSuccess => Code == Success;

    public static HostServiceResponse Ok(byte[] body) => new(Success, "OK", body);

    public static HostServiceResponse Fail(int code, string message) => new(code, message, []);

    public static HostServiceResponse NoSuchService(string service) => Fail(NotFound, $"No such host service: {service}");

    public static HostServiceResponse UnknownMethod(string service, string method) =>
        Fail(BadRequest, $"Unknown method '{method}' for host service {service}");

    public static HostServiceResponse Exception(Exception ex) =>
        Fail(Failure, $"Failed to execute host service method: {ex.Message}");
}
