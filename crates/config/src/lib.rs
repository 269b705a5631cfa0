//! Recipe configuration for open-provence-rs: YAML schema, defaults, validation, CLI overrides, run naming.
