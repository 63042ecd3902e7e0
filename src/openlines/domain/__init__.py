"""Plain rules and records of the Open Lines world: no I/O, time passed in."""
