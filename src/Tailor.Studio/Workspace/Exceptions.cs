namespace Tailor.Studio;

/// <summary>A project, label, example, model version or run the workspace does not have (the message names it, by id):
/// the studio answers 404 for it, where other bad input is a 400.</summary>
public sealed class NotFoundException : TailorException
{
    /// <summary>The exception with its message ("There is no project 7 in this workspace.").</summary>
    public NotFoundException(string message) : base(message) { }
}

/// <summary>A request the project's state does not allow yet (predicting with a model trained on none of its labels): the
/// studio answers 409; the message says what to do first.</summary>
public sealed class ProjectStateException : TailorException
{
    /// <summary>The exception with its message.</summary>
    public ProjectStateException(string message) : base(message) { }
}
