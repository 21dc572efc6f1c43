"""One module per `focusrig` subcommand: add_arguments(parser) and run(args)."""
