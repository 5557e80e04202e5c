"""The one error type of the plugin: a message sqlc shows to the user."""


class GenerateError(Exception):
    """Generation cannot continue; the message says what to change."""
