"""The pipeline's stages (pure functions over `schemas` models) and the Faust agents that wire them."""
