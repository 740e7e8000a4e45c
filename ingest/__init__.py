"""Reading articles from files (JSON Lines, wire dumps) and producing them to `articles.raw`."""
