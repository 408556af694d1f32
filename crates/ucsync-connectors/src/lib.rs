//! PLACEHOLDER — the connector registry is written by the CSV connector work.
