"""Services that change the Open Lines world: each runs one transaction through the store, applies
the pure rules of ``openlines.domain``, and writes the outbox events its change causes."""
