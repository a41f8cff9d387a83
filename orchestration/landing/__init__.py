"""Landing inputs: read files, validate rows against pandera schemas, deduplicate, quarantine."""
