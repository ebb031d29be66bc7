//! callvault wire
