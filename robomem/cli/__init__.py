"""The command line (`robomem ...`)."""
