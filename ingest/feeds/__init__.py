"""Live feeds: poll RSS/Atom sources, take each new entry's text from its page, produce it once."""
