//! The HTTP API, SCIM endpoint, web console and scheduler live here once `ucsync serve` exists (issue 4).
