using Tailor.Cli;

CliApp.ExtraCommands.AddRange(Tailor.Cli.Commands.Registry.Extra);
return await CliApp.RunAsync(args);
