"""The bot's domain, with no Discord import: the intake and the task lifecycle."""
