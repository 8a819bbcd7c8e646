namespace Tailor.Cli;

public static class CliApp
{
    public static int Run(string[] args)
    {
        Console.WriteLine("tailor: not yet");
        return 0;
    }
}
