"""Messages for people: every error is one printable line."""


def one_line(text: str) -> str:
    """``text`` with control characters (a newline in a file name) and undecodable bytes of
    names escaped, so that a message stays one printable line."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
