"""The one error the stack raises: its message is the one line the CLI prints."""


class StackError(Exception):
    pass
