return Tailor.Cli.CliApp.Run(args);
