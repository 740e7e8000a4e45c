"""newsstream: streaming news ingestion — clean, detect language, tag entities, index, alert."""
