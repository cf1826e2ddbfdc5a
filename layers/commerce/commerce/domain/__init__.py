"""Pure business rules: values and invariants with no I/O, so they can be tested exhaustively."""
