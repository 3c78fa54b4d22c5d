"""The one exception type for errors a user can cause (bad file, bad parameter, bad timing)."""


class HarmoniqError(ValueError):
    """A user-facing error: the message names the input, the field and what would be valid.

    The CLI prints it on one line and exits with status 2 (1 is reserved for "checked and
    found violations").
    """
