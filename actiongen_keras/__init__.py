"""actiongen_keras."""
