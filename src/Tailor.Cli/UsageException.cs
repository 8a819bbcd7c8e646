namespace Tailor.Cli;

/// <summary>
/// A mistake in how a command was invoked — an option's value out of its range or of the wrong kind, options that
/// conflict, an empty or folder path where a file is expected — as opposed to bad data or a bad model. The CLI prints
/// its message and exits with code 2 (bad data and models exit with 1). Its message names the option and what it takes.
/// </summary>
internal sealed class UsageException : TailorException
{
    public UsageException(string message) : base(message) { }

    public UsageException(string message, Exception inner) : base(message, inner) { }
}
