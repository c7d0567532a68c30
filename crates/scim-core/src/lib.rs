//! SCIM 2.0 protocol without I/O (being built).
