"""The HTTP API (`create_api`) and the analysts' search page it serves at `/`."""
