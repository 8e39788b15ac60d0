-- One column per SQLite type, for POST /t/{tenant}/values.
CREATE TABLE IF NOT EXISTS round_trip (i INTEGER, r REAL, t TEXT, b BLOB);
