"""Pure domain rules: identifiers, card lifecycle, errors (no Flask, no SQLAlchemy)."""
