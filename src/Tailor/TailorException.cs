namespace Tailor;

/// <summary>
/// The one exception type Tailor throws for bad input: a file that cannot be read, a layer or label that
/// does not exist, a value outside what is allowed. The message names the file, layer, label or value and
/// says what is allowed; callers (the CLI, an app) can show it as is.
/// </summary>
public class TailorException : Exception
{
    public TailorException(string message) : base(message) { }

    public TailorException(string message, Exception inner) : base(message, inner) { }
}
