using Tailor.Cli;

return await CliApp.RunAsync(args);
