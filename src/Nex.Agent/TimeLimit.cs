namespace Nex.Agent;

/// <summary>
/// A cancellation that comes when a time limit passes on a <see cref="TimeProvider"/>, or with either of two
/// tokens: a linked token source can only time out on the system clock (<c>CancelAfter</c>), which a test's
/// fake clock cannot drive. Dispose it when the work it limits is done.
/// </summary>
internal sealed class TimeLimit : IDisposable
{
    private readonly CancellationTokenSource _source;
    private readonly CancellationTokenRegistration _first;
    private readonly CancellationTokenRegistration _second;

    /// <summary>Starts the limit now.</summary>
    /// <param name="limit">How long until it cancels.</param>
    /// <param name="time">The clock it is measured on.</param>
    /// <param name="first">A token that cancels it sooner.</param>
    /// <param name="second">Another token that cancels it sooner.</param>
    public TimeLimit(TimeSpan limit, TimeProvider time, CancellationToken first, CancellationToken second = default)
    {
        _source = new CancellationTokenSource(limit, time);
        _first = first.UnsafeRegister(Cancel, _source);
        _second = second.UnsafeRegister(Cancel, _source);
    }

    /// <summary>Cancelled when the limit passes or either token is cancelled.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>Whether it has been cancelled.</summary>
    public bool IsCancellationRequested => _source.IsCancellationRequested;

    /// <inheritdoc />
    public void Dispose()
    {
        // The registrations first: disposing one waits for its callback to finish, so none cancels a disposed source.
        _first.Dispose();
        _second.Dispose();
        _source.Dispose();
    }

    private static void Cancel(object? source) => ((CancellationTokenSource)source!).Cancel();
}
